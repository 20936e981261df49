"""Stream a JSONL file of graphs and executions into the database in batches."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

from pydantic import TypeAdapter, ValidationError

from execlens.db.engine import Database
from execlens.errors import UserError
from execlens.executions.schemas import (
    DuplicateIdError,
    ExecutionIn,
    ExecutionLine,
    GraphIn,
    GraphLine,
    ImportLine,
    ensure_unique_ids,
)
from execlens.executions.service import execution_service

_LINE = TypeAdapter(ImportLine)
DEFAULT_BATCH = 500
YIELD_EVERY = 50


@dataclass
class SkippedLine:
    line: int
    reason: str


@dataclass
class ImportReport:
    graphs: int = 0
    executions: int = 0
    node_executions: int = 0
    lines: int = 0
    committed_through: int = 0
    skipped: list[SkippedLine] = field(default_factory=list)


class ImportLineError(UserError):
    """A line of the file is not a valid graph or execution."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def describe_validation_error(exc: ValidationError) -> str:
    """Return the first error of ``exc`` as 'field.path: message'."""
    error = exc.errors()[0]
    # Drop the discriminator tag ("graph"/"execution") that pydantic puts first.
    loc = [str(p) for p in error["loc"] if p not in ("graph", "execution")]
    path = ""
    for part in loc:
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return f"{path}: {error['msg']}" if path else error["msg"]


_NOT_A_RECORD = {"union_tag_not_found", "union_tag_invalid", "model_attributes_type"}


def parse_line(number: int, text: str) -> GraphIn | ExecutionIn | None:
    """Return the record on one line, None for a blank line, or raise ImportLineError."""
    if not text.strip():
        return None
    try:
        # validate_json parses and validates in one pass in Rust, much faster than
        # json.loads followed by validate_python.
        return _LINE.validate_json(text)
    except ValidationError as exc:
        error = exc.errors()[0]
        if error["type"] == "json_invalid":
            reason = f"not valid JSON ({error['ctx']['error']})"
        elif error["type"] in _NOT_A_RECORD and len(error["loc"]) == 0:
            reason = 'kind: must be "graph" or "execution"'
        else:
            reason = describe_validation_error(exc)
        raise ImportLineError(number, reason) from exc


@dataclass
class _Batch:
    graphs: list[GraphIn] = field(default_factory=list)
    executions: list[ExecutionIn] = field(default_factory=list)
    first_line: int = 0
    last_line: int = 0
    line_of: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.graphs) + len(self.executions)


async def _batches(
    lines: Iterable[str], *, batch_size: int, skip_invalid: bool, report: ImportReport
) -> AsyncIterator[_Batch]:
    batch = _Batch(first_line=1)
    for number, text in enumerate(lines, start=1):
        report.lines = number
        if number % YIELD_EVERY == 0:
            # Let the previous batch's write advance while this one is parsed.
            await asyncio.sleep(0)
        try:
            record = parse_line(number, text)
        except ImportLineError as exc:
            if not skip_invalid:
                raise
            report.skipped.append(SkippedLine(exc.line, exc.reason))
            continue
        if record is None:
            continue
        if isinstance(record, ExecutionLine):
            if record.id in batch.line_of:
                # The same execution twice in one batch: write what we have first, so
                # the later line wins as it would across batches.
                yield batch
                batch = _Batch(first_line=number)
            batch.line_of[record.id] = number
            batch.executions.append(record)
        elif isinstance(record, GraphLine):
            batch.graphs.append(record)
        batch.last_line = number
        if len(batch) >= batch_size:
            yield batch
            batch = _Batch(first_line=number + 1)
    if len(batch):
        yield batch


async def import_lines(
    database: Database,
    lines: Iterable[str],
    *,
    batch_size: int = DEFAULT_BATCH,
    skip_invalid: bool = False,
    on_progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Import JSONL lines, committing each batch; raise ImportLineError on a bad line."""
    report = ImportReport()
    batches = _batches(lines, batch_size=batch_size, skip_invalid=skip_invalid, report=report)
    # One batch is written while the next is parsed; parsing is CPU work in this thread,
    # writing is mostly the database's work in its own thread or process.
    writing: asyncio.Task[None] | None = None
    bad_line: ImportLineError | None = None
    try:
        async for batch in _without_duplicates(batches, skip_invalid=skip_invalid, report=report):
            if writing is not None:
                await writing
            writing = asyncio.create_task(_write(database, batch, report, on_progress))
            await asyncio.sleep(0)
    except ImportLineError as exc:
        bad_line = exc
    except BaseException:
        if writing is not None:
            writing.cancel()
        raise
    if writing is not None:
        await writing
    if bad_line is not None:
        raise ImportLineError(
            bad_line.line,
            f"{bad_line.reason} (nothing from line {report.committed_through + 1} on was "
            "written; fix the line and import again, or pass --skip-invalid)",
        ) from bad_line
    return report


async def _without_duplicates(
    batches: AsyncIterator[_Batch], *, skip_invalid: bool, report: ImportReport
) -> AsyncIterator[_Batch]:
    # A node execution id shared by two executions of one batch cannot be upserted in
    # one statement (PostgreSQL refuses to touch a row twice), so it is a bad line.
    async for batch in batches:
        while True:
            try:
                ensure_unique_ids(batch.executions)
                break
            except DuplicateIdError as exc:
                duplicate = batch.executions[exc.index]
                line = batch.line_of[duplicate.id]
                if not skip_invalid:
                    raise ImportLineError(line, exc.problem) from exc
                report.skipped.append(SkippedLine(line, exc.problem))
                del batch.executions[exc.index]
        yield batch


async def _write(
    database: Database,
    batch: _Batch,
    report: ImportReport,
    on_progress: Callable[[ImportReport], None] | None,
) -> None:
    async with database.write() as session:
        result = await execution_service.ingest(
            session, database.dialect, graphs=batch.graphs, executions=batch.executions
        )
    report.graphs += len(batch.graphs)
    report.executions += result.executions
    report.node_executions += result.node_executions
    report.committed_through = batch.last_line
    if on_progress is not None:
        on_progress(report)
