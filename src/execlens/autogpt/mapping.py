"""Turn AutoGPT's rows into execlens's wire models, as AutoGPT itself reads them back."""

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from execlens.db.base import AnyRow
from execlens.errors import field_path
from execlens.executions.models import ExecutionStatus
from execlens.executions.schemas import (
    MAX_NODE_EXECUTIONS,
    ExecutionIn,
    ExecutionStats,
    GraphIn,
    NodeExecutionIn,
)

# The graph `stats` keys execlens stores, under AutoGPT's database names.
STATS_KEYS = tuple(ExecutionStats.model_fields)
_NAME_LIMIT = 500
TRIMMED_NODE_ID = "execlens-trimmed"


def first_problem(exc: ValueError) -> str:
    """Return the first problem a validation error names, as "field: message"."""
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        return f"{field_path(error['loc'])}: {error['msg']}"
    return str(exc)


def is_skipped(run: AnyRow) -> bool:
    """Tell whether a run must not be in execlens: soft-deleted, or a dry run."""
    stats = run.stats if isinstance(run.stats, dict) else {}
    return bool(run.is_deleted) or stats.get("is_dry_run") is True


def run_stats(stats: Any) -> ExecutionStats:
    """Return the stats keys execlens knows; a value execlens cannot store is left out."""
    picked = {k: v for k, v in (stats or {}).items() if k in STATS_KEYS and v is not None}
    for key in ("error", "activity_status"):
        if key in picked and not isinstance(picked[key], str):
            picked[key] = str(picked[key])
    for _ in range(len(picked) + 1):
        try:
            return ExecutionStats.model_validate(picked)
        except ValidationError as exc:
            # One bad value (a negative cost, a score of 7) must not hide the others.
            for error in exc.errors():
                picked.pop(str(error["loc"][0]), None)
    return ExecutionStats()


def _node_inputs(node: AnyRow) -> Any:
    stats = node.stats if isinstance(node.stats, dict) else {}
    if stats.get("cleared_inputs"):
        return stats["cleared_inputs"]
    return node.execution_data or node.inputs


def _node_outputs(node: AnyRow) -> Any:
    stats = node.stats if isinstance(node.stats, dict) else {}
    if stats.get("cleared_outputs"):
        return stats["cleared_outputs"]
    return node.outputs


def _node_error(node: AnyRow) -> str | None:
    error = node.stats.get("error") if isinstance(node.stats, dict) else None
    return None if error is None else str(error)


def node_execution(node: AnyRow) -> NodeExecutionIn:
    """Return one node execution, read as AutoGPT reads it (moderated values first)."""
    return NodeExecutionIn(
        id=node.id,
        node_id=node.node_id,
        block_name=(node.block_name or "")[:_NAME_LIMIT] or None,
        status=ExecutionStatus(node.status),
        input=_node_inputs(node),
        output=_node_outputs(node),
        error=_node_error(node),
        # A node execution never queued (still INCOMPLETE) keeps its place by addedTime.
        queued_at=node.queued_at,
        started_at=node.started_at,
        ended_at=node.ended_at,
    )


def trim_limits() -> tuple[int, int]:
    """Return how many first and last node executions a run over the limit keeps."""
    keep = MAX_NODE_EXECUTIONS - 1  # one place for the note
    return keep // 2, keep - keep // 2


def node_executions(run_id: str, rows: Sequence[AnyRow]) -> list[NodeExecutionIn]:
    """Return a run's node executions; a trimmed run gets a note where steps were left out."""
    nodes = [node_execution(row) for row in rows]
    if not rows or rows[0].total <= MAX_NODE_EXECUTIONS:
        return nodes
    head, _ = trim_limits()
    note = trimmed_note(run_id, rows[0].total, rows[head - 1].next_queued_at)
    return [*nodes[:head], note, *nodes[head:]]


def trimmed_note(run_id: str, total: int, at: Any) -> NodeExecutionIn:
    """Return the node execution that says how much of a run was left out."""
    dropped = total - (MAX_NODE_EXECUTIONS - 1)
    note = (
        f"execlens kept the first and last node executions of this run: it has {total:,}, "
        f"execlens stores at most {MAX_NODE_EXECUTIONS:,}; {dropped:,} in between were left out"
    )
    return NodeExecutionIn(
        id=f"{run_id}:{TRIMMED_NODE_ID}",
        node_id=TRIMMED_NODE_ID,
        block_name="execlens: run trimmed",
        status=ExecutionStatus.COMPLETED,
        output={"note": [note]},
        queued_at=at,
    )


def execution(run: AnyRow, nodes: list[NodeExecutionIn]) -> ExecutionIn:
    """Return a finished run with its node executions."""
    return ExecutionIn(
        id=run.id,
        graph_id=run.graph_id,
        graph_version=run.graph_version,
        user_id=run.user_id,
        status=ExecutionStatus(run.status),
        created_at=run.created_at,
        started_at=run.started_at,
        ended_at=run.ended_at,
        stats=run_stats(run.stats if isinstance(run.stats, dict) else None),
        node_executions=nodes,
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
