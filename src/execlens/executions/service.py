"""Ingest, list and read executions: the logic behind the API and the CLI."""

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from execlens.db.engine import Dialect
from execlens.errors import NotFoundError, UserError
from execlens.executions import repository
from execlens.executions.models import Execution, ExecutionStatus, NodeExecution
from execlens.executions.schemas import (
    ExecutionIn,
    ExecutionOut,
    ExecutionPage,
    ExecutionStats,
    ExecutionSummary,
    GraphIn,
    GraphOut,
    IngestResult,
    NodeExecutionOut,
)

MAX_PAGE = 500


def _graph_row(graph: GraphIn) -> dict:
    return graph.model_dump(mode="json")


def _execution_row(execution: ExecutionIn) -> dict:
    stats = execution.stats
    return {
        "id": execution.id,
        "graph_id": execution.graph_id,
        "graph_version": execution.graph_version,
        "user_id": execution.user_id,
        "status": execution.status,
        "created_at": execution.created_at,
        "started_at": execution.started_at,
        "ended_at": execution.ended_at,
        "cost_cents": stats.cost,
        "walltime": stats.walltime,
        "cputime": stats.cputime,
        "node_count": stats.node_count,
        "node_error_count": stats.node_error_count,
        "error": stats.error,
        "activity_status": stats.activity_status,
        "correctness_score": stats.correctness_score,
    }


def _node_rows(execution: ExecutionIn) -> list[dict]:
    return [
        {
            "id": node.id,
            "execution_id": execution.id,
            "node_id": node.node_id,
            "block_name": node.block_name,
            "status": node.status,
            "input_data": node.input,
            "output_data": node.output,
            "error": node.error,
            "queued_at": node.queued_at,
            "started_at": node.started_at,
            "ended_at": node.ended_at,
        }
        for node in execution.node_executions
    ]


def _summary(execution: Execution) -> ExecutionSummary:
    return ExecutionSummary(
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
    except (ValueError, TypeError, binascii.Error) as exc:
        raise UserError(
            "cursor is not valid: pass the next_cursor value of a previous page unchanged"
        ) from exc


class ExecutionService:
    """Ingestion and reads of graphs and executions."""

    async def upsert_graph(self, session: AsyncSession, dialect: Dialect, graph: GraphIn) -> None:
        """Store one graph version, replacing the same (id, version)."""
        await repository.upsert_graphs(session, dialect, [_graph_row(graph)])

    async def ingest(
        self,
        session: AsyncSession,
        dialect: Dialect,
        *,
        graphs: Sequence[GraphIn] = (),
        executions: Sequence[ExecutionIn] = (),
    ) -> IngestResult:
        """Upsert graphs and executions with their node executions in the caller's transaction."""
        await repository.upsert_graphs(session, dialect, [_graph_row(g) for g in graphs])
        await repository.upsert_executions(
            session, dialect, [_execution_row(e) for e in executions]
        )
        node_rows = [row for e in executions for row in _node_rows(e)]
        await repository.upsert_node_executions(session, dialect, node_rows)
        return IngestResult(executions=len(executions), node_executions=len(node_rows))

    async def list(
        self,
        session: AsyncSession,
        *,
        graph_id: str | None = None,
        status: ExecutionStatus | None = None,
        user_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> ExecutionPage:
        """Return one page of executions, newest first."""
        stmt = repository.select_executions(
            graph_id=graph_id,
            status=status,
            user_id=user_id,
            created_after=created_after,
            created_before=created_before,
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
        return ExecutionOut(
            **_summary(execution).model_dump(), node_executions=[_node_out(n) for n in nodes]
        )

    async def get_graph(self, session: AsyncSession, graph_id: str, version: int) -> GraphOut:
        """Return one graph version."""
        graph = await repository.get_graph(session, graph_id, version)
        if graph is None:
            raise NotFoundError(f"graph {graph_id!r} version {version} does not exist")
        return GraphOut.model_validate(graph)


execution_service = ExecutionService()
