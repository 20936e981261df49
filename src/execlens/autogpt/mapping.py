"""Turn AutoGPT's rows into execlens's rows, as AutoGPT itself reads them back."""

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from pydantic import ValidationError
from pydantic_core import to_json

from execlens.autogpt import reader
from execlens.autogpt.reader import NodeRow, RunRow
from execlens.db.base import AnyRow
from execlens.db.dialect import utc_text
from execlens.errors import field_path
from execlens.executions.models import ExecutionStatus
from execlens.executions.repository import NODE_EXECUTION_COLUMNS
from execlens.executions.schemas import (
    MAX_NODE_EXECUTIONS,
    ExecutionIn,
    ExecutionStats,
    GraphIn,
    NodeExecutionIn,
)

# The graph `stats` keys execlens stores, under AutoGPT's database names.
STATS_KEYS = tuple(ExecutionStats.model_fields)
_NAME_LIMIT = reader.NAME_LIMIT
_ID_LIMIT = 200
# node_values: the reader's first columns, and where the error is among them.
_NODE_COLUMNS = len(NODE_EXECUTION_COLUMNS)
_ERROR = NODE_EXECUTION_COLUMNS.index("error")
_INT32_MAX = 2**31 - 1
_STATUSES = frozenset(status.value for status in ExecutionStatus)
TRIMMED_NODE_ID = "execlens-trimmed"
_TRIMMED_BLOCK = "execlens: run trimmed"


def first_problem(exc: ValueError) -> str:
    """Return the first problem a validation error names, as "field: message"."""
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        return f"{field_path(error['loc'])}: {error['msg']}"
    return str(exc)


def is_skipped(run: RunRow) -> bool:
    """Tell whether a run must not be in execlens: soft-deleted, or a dry run."""
    stats = run.stats if isinstance(run.stats, dict) else {}
    return bool(run.is_deleted) or stats.get("is_dry_run") is True


def stats_values(stats: dict[str, Any] | None) -> tuple[Any, ...]:
    """Return the stats execlens keeps, in STATS_KEYS order; a value it cannot store is None."""
    values = _values_as_is(stats or {})
    if values is not None:
        return tuple(values)
    picked = {k: v for k, v in (stats or {}).items() if k in STATS_KEYS and v is not None}
    for key in ("error", "activity_status"):
        if key in picked and not isinstance(picked[key], str):
            picked[key] = str(picked[key])
    checked = _checked_stats(picked)
    return tuple(getattr(checked, key) for key in STATS_KEYS)


def _checked_stats(picked: dict[str, Any]) -> ExecutionStats:
    for _ in range(len(picked) + 1):
        try:
            return ExecutionStats.model_validate(picked)
        except ValidationError as exc:
            # One bad value (a negative cost, a score of 7) must not hide the others.
            for error in exc.errors():
                picked.pop(str(error["loc"][0]), None)
    return ExecutionStats()


# The values ExecutionStats keeps as they are: of that exact type, within those bounds (NaN
# fails both, infinity the upper). Stats holding only such values skip the model, whose
# validation cost more than the rest of mapping a run.
_KEPT_AS_IS: dict[str, tuple[type, float, float]] = {
    "cost": (int, 0, _INT32_MAX),
    "walltime": (float, 0.0, sys.float_info.max),
    "cputime": (float, 0.0, sys.float_info.max),
    "node_count": (int, 0, _INT32_MAX),
    "node_error_count": (int, 0, _INT32_MAX),
    "error": (str, 0, 0),
    "activity_status": (str, 0, 0),
    "correctness_score": (float, 0.0, 1.0),
}
# Each key's place in STATS_KEYS, with its kept values.
_AS_IS: dict[str, tuple[int, type, float, float]] = {
    key: (index, *_KEPT_AS_IS[key]) for index, key in enumerate(STATS_KEYS)
}


def _values_as_is(stats: dict[str, Any]) -> list[Any] | None:
    """Return the stats in STATS_KEYS order, or None when one needs ExecutionStats' checks."""
    values: list[Any] = [None] * len(STATS_KEYS)
    for key, value in stats.items():
        spec = _AS_IS.get(key)
        if spec is None or value is None:
            continue
        index, kind, low, high = spec
        if type(value) is not kind or (kind is not str and not low <= cast(float, value) <= high):
            return None
        values[index] = value
    return values


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= _ID_LIMIT


def _check_node(node: NodeRow) -> None:
    """Raise ValidationError naming the first field of ``node`` execlens cannot store."""
    NodeExecutionIn(
        id=node["id"], node_id=node["node_id"], block_name=node["block_name"], status=node["status"]
    )


def node_values(node: NodeRow) -> tuple[Any, ...]:
    """Return one node execution as stored, values in NODE_EXECUTION_COLUMNS order.

    The reader selects them in that order, as AutoGPT reads them back (moderated values
    first), inputs and outputs as JSON text and times as UTC text, stored as they are.
    """
    values: tuple[Any, ...] = node[:_NODE_COLUMNS]
    # The checks NodeExecutionIn makes, spelled out: pydantic for each of many rows cost
    # more than the rest of the mapping. It names the field of a row that fails them.
    if not (_is_id(values[0]) and _is_id(values[2]) and values[4] in _STATUSES):
        _check_node(node)
    error = values[_ERROR]
    if error is not None and type(error) is not str:
        values = (*values[:_ERROR], str(error), *values[_ERROR + 1 :])
    return values


def trim_limits() -> tuple[int, int]:
    """Return how many first and last node executions a run over the limit keeps."""
    keep = MAX_NODE_EXECUTIONS - 1  # one place for the note
    return keep // 2, keep - keep // 2


def node_executions(run_id: str, rows: Sequence[NodeRow]) -> list[tuple[Any, ...]]:
    """Return a run's node executions; a trimmed run gets a note where steps were left out."""
    nodes = [node_values(row) for row in rows]
    if not rows or rows[0]["total"] <= MAX_NODE_EXECUTIONS:
        return nodes
    head, _ = trim_limits()
    note = trimmed_note(run_id, rows[0]["total"], rows[head - 1]["next_queued_at"])
    return [*nodes[:head], note, *nodes[head:]]


def trimmed_note(run_id: str, total: int, at: datetime | None) -> tuple[Any, ...]:
    """Return the node execution that says how much of a run was left out."""
    dropped = total - (MAX_NODE_EXECUTIONS - 1)
    note = (
        f"execlens kept the first and last node executions of this run: it has {total:,}, "
        f"execlens stores at most {MAX_NODE_EXECUTIONS:,}; {dropped:,} in between were left out"
    )
    return (
        f"{run_id}:{TRIMMED_NODE_ID}",
        run_id,
        TRIMMED_NODE_ID,
        _TRIMMED_BLOCK,
        ExecutionStatus.COMPLETED.value,
        None,
        to_json({"note": [note]}).decode(),
        None,
        None if at is None else utc_text(at),
        None,
        None,
    )


def _check_execution(run: RunRow) -> None:
    """Raise ValidationError naming the first field of ``run`` execlens cannot store."""
    ExecutionIn(
        id=run.id,
        graph_id=run.graph_id,
        graph_version=run.graph_version,
        user_id=run.user_id,
        status=ExecutionStatus(run.status),
        created_at=run.created_at,
        started_at=run.started_at,
        ended_at=run.ended_at,
    )


def execution_values(run: RunRow, arrived_at: datetime) -> tuple[Any, ...]:
    """Return a finished run as stored, values in EXECUTION_COLUMNS order."""
    version = run.graph_version
    valid = (
        _is_id(run.id)
        and _is_id(run.graph_id)
        and _is_id(run.user_id)
        and run.status in _STATUSES
        and type(version) is int
        and 0 <= version <= _INT32_MAX
        and isinstance(run.created_at, datetime)
    )
    if not valid:
        _check_execution(run)
    stats = stats_values(run.stats if isinstance(run.stats, dict) else None)
    return (
        run.id,
        run.graph_id,
        version,
        run.user_id,
        run.status,
        run.created_at,
        run.started_at,
        run.ended_at,
        *stats,
        arrived_at,
    )


def graph(row: AnyRow, nodes: Sequence[AnyRow], links: Sequence[AnyRow]) -> GraphIn:
    """Return one graph version with its nodes (block names) and links between them."""
    node_ids = {n.id for n in nodes}
    # Validated whole, so an error names its place ("nodes[3].id").
    return GraphIn.model_validate(
        {
            "id": row.id,
            "version": row.version,
            "name": (row.name or row.id)[:_NAME_LIMIT],
            "description": row.description or "",
            "nodes": [
                {
                    "id": n.id,
                    "block_id": n.block_id,
                    "block_name": (n.block_name or n.block_id)[:_NAME_LIMIT],
                    "description": n.description or "",
                }
                for n in nodes
            ],
            "links": [
                {
                    "source_id": link.source_id,
                    "sink_id": link.sink_id,
                    "source_name": link.source_name,
                    "sink_name": link.sink_name,
                }
                for link in links
                if link.source_id in node_ids and link.sink_id in node_ids
            ],
        }
    )
