"""Ingest, list and read executions: the logic behind the API and the CLI."""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnExpressionArgument
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.db.dialect import EncodedRows
from execlens.db.engine import Dialect
from execlens.errors import NotFoundError, UserError
from execlens.executions import repository
from execlens.executions.domain import RunRecord, runs_from_rows
from execlens.executions.models import (
    FINISHED_STATUSES,
    Execution,
    ExecutionStatus,
    NodeExecution,
)
from execlens.executions.schemas import (
    ExecutionIn,
    ExecutionOut,
    ExecutionPage,
    ExecutionStats,
    ExecutionSummary,
    GraphIn,
    GraphList,
    GraphOut,
    GraphSummary,
    IngestResult,
    NodeExecutionOut,
)

MAX_PAGE = 500
# A cursor holds a timestamp and an id of at most 200 characters, base64-encoded.
MAX_CURSOR_CHARS = 1_000


def graph_row(graph: GraphIn) -> dict[str, Any]:
    """Return a graph as a row for repository.upsert_graphs."""
    return graph.model_dump(mode="json")


def execution_values(execution: ExecutionIn) -> tuple[Any, ...]:
    """Return an execution's row values in the order of repository.EXECUTION_COLUMNS."""
    stats = execution.stats
    # Stored only if the run has no arrival time yet (see upsert_executions).
    arrived = datetime.now(UTC) if execution.status in FINISHED_STATUSES else None
    return (
        execution.id,
        execution.graph_id,
        execution.graph_version,
        execution.user_id,
        execution.status.value,
        execution.created_at,
        execution.started_at,
        execution.ended_at,
        stats.cost,
        stats.walltime,
        stats.cputime,
        stats.node_count,
        stats.node_error_count,
        stats.error,
        stats.activity_status,
        stats.correctness_score,
        arrived,
    )


def node_execution_values(execution: ExecutionIn) -> list[tuple[Any, ...]]:
    """Return rows of an execution's node executions (repository.NODE_EXECUTION_COLUMNS)."""
    execution_id = execution.id
    return [
        (
            node.id,
            execution_id,
            node.node_id,
            node.block_name,
            node.status.value,
            node.input,
            node.output,
            node.error,
            node.queued_at,
            node.started_at,
            node.ended_at,
        )
        for node in execution.node_executions
    ]


@dataclass
class IngestRows:
    """Graphs, executions and node executions encoded for one dialect, ready to write."""

    graphs: list[dict[str, Any]]
    executions: EncodedRows
    node_executions: EncodedRows
    execution_count: int
    node_execution_count: int


def encode_ingest(
    dialect: Dialect, graphs: Sequence[GraphIn], executions: Sequence[ExecutionIn]
) -> IngestRows:
    """Return the rows that ingesting ``graphs`` and ``executions`` writes."""
    node_rows = [row for e in executions for row in node_execution_values(e)]
    return encode_values(dialect, graphs, [execution_values(e) for e in executions], node_rows)


def encode_values(
    dialect: Dialect,
    graphs: Sequence[GraphIn],
    executions: Sequence[Sequence[Any]],
    node_executions: Sequence[Sequence[Any]],
    *,
    nodes_as_text: bool = False,
) -> IngestRows:
    """Return the rows that ingesting ``graphs`` and rows of values writes.

    The values come in the order of repository.EXECUTION_COLUMNS and NODE_EXECUTION_COLUMNS,
    already valid (as ``execution_values`` returns them for a validated ExecutionIn). With
    ``nodes_as_text``, node inputs and outputs are JSON text and their times UTC text.
    """
    return IngestRows(
        graphs=[graph_row(g) for g in graphs],
        executions=repository.encode_executions(dialect, executions),
        node_executions=repository.encode_node_executions(
            dialect, node_executions, as_text=nodes_as_text
        ),
        execution_count=len(executions),
        node_execution_count=len(node_executions),
    )


def _summary(execution: Execution) -> ExecutionSummary:
    return ExecutionSummary(**_fields(execution))


def _fields(execution: Execution) -> dict[str, Any]:
    """Return an execution's summary fields, for a summary or a full execution alike."""
    return dict(
        id=execution.id,
        graph_id=execution.graph_id,
        graph_version=execution.graph_version,
        user_id=execution.user_id,
        status=execution.status,
        created_at=execution.created_at,
        started_at=execution.started_at,
        ended_at=execution.ended_at,
        stats=ExecutionStats(
            cost=execution.cost_cents,
            walltime=execution.walltime,
            cputime=execution.cputime,
            node_count=execution.node_count,
            node_error_count=execution.node_error_count,
            error=execution.error,
            activity_status=execution.activity_status,
            correctness_score=execution.correctness_score,
        ),
    )


def _node_out(node: NodeExecution) -> NodeExecutionOut:
    return NodeExecutionOut(
        id=node.id,
        node_id=node.node_id,
        block_name=node.block_name,
        status=node.status,
        input=node.input_data,
        output=node.output_data,
        error=node.error,
        queued_at=node.queued_at,
        started_at=node.started_at,
        ended_at=node.ended_at,
    )


def encode_cursor(execution: Execution) -> str:
    """Return an opaque cursor that resumes listing after ``execution``."""
    raw = json.dumps([execution.created_at.isoformat(), execution.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Return the keyset position stored in ``cursor``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, execution_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(created_at), str(execution_id)
    # RecursionError: deeply nested JSON arrays in a forged cursor.
    except (ValueError, TypeError, RecursionError, binascii.Error) as exc:
        raise UserError(
            "cursor is not valid: pass the next_cursor value of a previous page unchanged"
        ) from exc


class ExecutionService:
    """Ingestion and reads of graphs and executions."""

    async def upsert_graph(self, session: AsyncSession, dialect: Dialect, graph: GraphIn) -> None:
        """Store one graph version, replacing the same (id, version)."""
        await repository.upsert_graphs(session, dialect, [graph_row(graph)])

    async def ingest(
        self,
        session: AsyncSession,
        dialect: Dialect,
        *,
        graphs: Sequence[GraphIn] = (),
        executions: Sequence[ExecutionIn] = (),
    ) -> IngestResult:
        """Upsert graphs and executions with their node executions in the caller's transaction."""
        return await self.write(session, dialect, encode_ingest(dialect, graphs, executions))

    async def write(
        self, session: AsyncSession, dialect: Dialect, rows: IngestRows
    ) -> IngestResult:
        """Upsert rows built by ``encode_ingest``, or joined from pieces, in the transaction."""
        await repository.upsert_graphs(session, dialect, rows.graphs)
        await repository.upsert_executions(session, dialect, rows.executions)
        await repository.upsert_node_executions(session, dialect, rows.node_executions)
        return IngestResult(
            executions=rows.execution_count, node_executions=rows.node_execution_count
        )

    async def insert_new(
        self, session: AsyncSession, dialect: Dialect, rows: IngestRows
    ) -> IngestResult:
        """Write rows of executions that were not stored when looked up, in the transaction.

        Faster than ``write`` while none is stored yet; as safe as it when one is.
        """
        await repository.upsert_graphs(session, dialect, rows.graphs)
        await repository.insert_new_executions(
            session, dialect, rows.executions, rows.node_executions
        )
        return IngestResult(
            executions=rows.execution_count, node_executions=rows.node_execution_count
        )

    async def remove(self, session: AsyncSession, ids: Sequence[str]) -> int:
        """Remove executions the source deleted, in the caller's transaction; return how many."""
        return await repository.delete_executions(session, ids)

    async def list(
        self,
        session: AsyncSession,
        *,
        graph_id: str | None = None,
        status: ExecutionStatus | None = None,
        user_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        score_min: float | None = None,
        score_max: float | None = None,
        where: Sequence[ColumnExpressionArgument[bool]] = (),
        cursor: str | None = None,
        limit: int = 100,
    ) -> ExecutionPage:
        """Return one page of executions, newest first; ``where`` adds other features' filters."""
        if score_min is not None and score_max is not None and score_min > score_max:
            raise UserError(
                f"score_min {score_min} is above score_max {score_max}; swap them",
                field="score_min",
            )
        stmt = repository.select_executions(
            graph_id=graph_id,
            status=status,
            user_id=user_id,
            created_after=created_after,
            created_before=created_before,
            score_min=score_min,
            score_max=score_max,
            where=where,
            after_key=decode_cursor(cursor) if cursor else None,
        ).limit(limit + 1)
        rows = (await session.scalars(stmt)).all()
        page = rows[:limit]
        next_cursor = encode_cursor(page[-1]) if len(rows) > limit else None
        return ExecutionPage(items=[_summary(row) for row in page], next_cursor=next_cursor)

    async def get(self, session: AsyncSession, execution_id: str) -> ExecutionOut:
        """Return one execution with its node executions."""
        execution = await repository.get_execution(session, execution_id)
        if execution is None:
            raise NotFoundError(f"execution {execution_id!r} does not exist")
        nodes = await repository.list_node_executions(session, execution_id)
        return ExecutionOut(**_fields(execution), node_executions=[_node_out(n) for n in nodes])

    async def get_runs(self, session: AsyncSession, ids: Sequence[str]) -> dict[str, RunRecord]:
        """Return several runs as the judge reads them, by id; missing ids are absent."""
        return runs_from_rows(*await repository.run_rows(session, ids))

    async def unknown_graph_hint(self, session: AsyncSession, graph_id: str) -> str | None:
        """Return a hint naming stored agents when ``graph_id`` has no runs, else None."""
        if await repository.graph_has_runs(session, graph_id):
            return None
        known = await repository.graph_ids(session, limit=5)
        if not known:
            return "execlens stores no runs yet; import some first (execlens import, sync)"
        names = ", ".join(known)
        return f"execlens stores no runs of agent {graph_id!r}; agents with runs: {names}"

    async def overview(self, session: AsyncSession) -> GraphList:
        """Return every graph that has executions, with counts, sorted by name."""
        rows = await repository.graph_overview(session)
        return GraphList(
            items=[GraphSummary.model_validate(row, from_attributes=True) for row in rows]
        )

    async def get_graph(self, session: AsyncSession, graph_id: str, version: int) -> GraphOut:
        """Return one graph version."""
        graph = await repository.get_graph(session, graph_id, version)
        if graph is None:
            raise NotFoundError(f"graph {graph_id!r} version {version} does not exist")
        return GraphOut.model_validate(graph)


execution_service = ExecutionService()
