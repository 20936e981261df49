"""Parse JSONL lines into records whose rows are encoded for the database.

This is the CPU-heavy half of an import. It runs in worker processes for large files,
so everything here takes and returns plain, picklable values.
"""

from collections.abc import Sequence
from typing import Any, NamedTuple

from pydantic import TypeAdapter, ValidationError

from execlens.db.dialect import EncodedRows
from execlens.db.engine import Dialect
from execlens.errors import UserError, field_path
from execlens.executions import repository
from execlens.executions.schemas import (
    NUL_MESSAGE,
    ExecutionIn,
    ExecutionLine,
    GraphIn,
    GraphLine,
    ImportLine,
    has_nul,
)
from execlens.executions.service import execution_values, graph_row, node_execution_values

_LINE = TypeAdapter(ImportLine)
_NOT_A_RECORD = {"union_tag_not_found", "union_tag_invalid", "model_attributes_type"}


class ImportLineError(UserError):
    """A line of the file is not a valid graph or execution."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


class LineError(NamedTuple):
    line: int
    reason: str


class GraphRecord(NamedTuple):
    line: int
    row: dict[str, Any]


class ExecutionRecord(NamedTuple):
    line: int
    id: str
    node_ids: tuple[str, ...]
    row: EncodedRows
    node_rows: EncodedRows


ParsedLine = LineError | GraphRecord | ExecutionRecord


def describe_validation_error(exc: ValidationError) -> str:
    """Return the first error of ``exc`` as 'field.path: message'."""
    error = exc.errors()[0]
    # Drop the discriminator tag ("graph"/"execution") that pydantic puts first.
    path = field_path(error["loc"], skip=("graph", "execution"))
    return f"{path}: {error['msg']}" if path else error["msg"]


def parse_line(number: int, text: str) -> GraphIn | ExecutionIn | None:
    """Return the record on one line, None for a blank line, or raise ImportLineError."""
    if not text.strip():
        return None
    if has_nul(text):
        raise ImportLineError(number, f"the line {NUL_MESSAGE}")
    try:
        # validate_json parses and validates in one pass in Rust, much faster than
        # json.loads followed by validate_python.
        return _LINE.validate_json(text)
    except ValidationError as exc:
        error = exc.errors()[0]
        if error["type"] == "json_invalid":
            # The same parser and wording as json_problem, which guards the API.
            reason = f"not valid JSON ({error['ctx']['error']})"
        elif error["type"] in _NOT_A_RECORD and len(error["loc"]) == 0:
            reason = 'kind: must be "graph" or "execution"'
        else:
            reason = describe_validation_error(exc)
        raise ImportLineError(number, reason) from exc


def _execution_record(dialect: Dialect, line: int, execution: ExecutionIn) -> ExecutionRecord:
    return ExecutionRecord(
        line=line,
        id=execution.id,
        node_ids=tuple(node.id for node in execution.node_executions),
        row=repository.encode_executions(dialect, [execution_values(execution)]),
        node_rows=repository.encode_node_executions(dialect, node_execution_values(execution)),
    )


def parse_chunk(dialect: Dialect, first_line: int, texts: Sequence[str]) -> list[ParsedLine]:
    """Parse consecutive lines numbered from ``first_line``; blank lines give nothing."""
    parsed: list[ParsedLine] = []
    for number, text in enumerate(texts, start=first_line):
        try:
            record = parse_line(number, text)
        except ImportLineError as exc:
            parsed.append(LineError(number, exc.reason))
            continue
        if isinstance(record, ExecutionLine):
            try:
                parsed.append(_execution_record(dialect, number, record))
            except UserError as exc:  # a value valid in itself that no database can store
                parsed.append(LineError(number, str(exc)))
        elif isinstance(record, GraphLine):
            parsed.append(GraphRecord(number, graph_row(record)))
    return parsed
