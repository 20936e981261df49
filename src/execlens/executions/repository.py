"""Queries and bulk writes for graphs, executions and node executions."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnExpressionArgument,
    CursorResult,
    ScalarSelect,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.db.base import AnyRow
from execlens.db.dialect import (
    EncodedRows,
    bulk_upsert,
    encode_rows,
    insert_new,
    insert_on_conflict,
)
from execlens.db.engine import Dialect
from execlens.executions.models import Execution, ExecutionStatus, Graph, NodeExecution

_JUDGE_COLUMNS = ("activity_status", "correctness_score")
# The order of the values in an execution or node execution row.
EXECUTION_COLUMNS = (
    "id",
    "graph_id",
    "graph_version",
    "user_id",
    "status",
    "created_at",
    "started_at",
    "ended_at",
    "cost_cents",
    "walltime",
    "cputime",
    "node_count",
    "node_error_count",
    "error",
    "activity_status",
    "correctness_score",
    "arrived_at",
)
NODE_EXECUTION_COLUMNS = (
    "id",
    "execution_id",
    "node_id",
    "block_name",
    "status",
    "input_data",
    "output_data",
    "error",
    "queued_at",
    "started_at",
    "ended_at",
)

_NODE_TEXT_COLUMNS = frozenset(("input_data", "output_data", "queued_at", "started_at", "ended_at"))


async def upsert_graphs(
    session: AsyncSession, dialect: Dialect, rows: Sequence[dict[str, Any]]
) -> None:
    """Insert graph versions, replacing any stored version with the same (id, version)."""
    if not rows:
        return
    table = Graph.__table__
    stmt = insert_on_conflict(dialect, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["id", "version"],
        set_={c: stmt.excluded[c] for c in ("name", "description", "nodes", "links")},
    )
    await session.execute(stmt, list(rows))


async def upsert_executions(session: AsyncSession, dialect: Dialect, rows: EncodedRows) -> None:
    """Insert executions (``encode_executions`` rows) by id, updating those already stored."""
    # A re-import without judge results must not erase a verdict stored since.
    await bulk_upsert(
        session,
        dialect,
        Execution.__table__,
        EXECUTION_COLUMNS,
        rows,
        keep_existing=_JUDGE_COLUMNS,
        # A run re-sent (a re-sync, a re-import) arrived when it was first stored finished.
        keep_first=("arrived_at",),
    )


async def upsert_node_executions(
    session: AsyncSession, dialect: Dialect, rows: EncodedRows
) -> None:
    """Insert node executions (``encode_node_executions`` rows) by id, updating stored ones."""
    await bulk_upsert(session, dialect, NodeExecution.__table__, NODE_EXECUTION_COLUMNS, rows)


async def insert_new_executions(
    session: AsyncSession, dialect: Dialect, executions: EncodedRows, node_executions: EncodedRows
) -> None:
    """Insert executions not stored yet with their node executions; upsert if one is now."""
    writes = (
        (Execution.__table__, EXECUTION_COLUMNS, executions),
        (NodeExecution.__table__, NODE_EXECUTION_COLUMNS, node_executions),
    )
    # Another writer (a REST ingest of the same run, say) may have stored one since the
    # caller looked: then the rows go the usual way, and nothing is lost or doubled.
    if not await insert_new(session, dialect, writes):
        await upsert_executions(session, dialect, executions)
        await upsert_node_executions(session, dialect, node_executions)


async def delete_executions(session: AsyncSession, ids: Sequence[str]) -> int:
    """Delete executions by id, with their node executions and verdicts; return how many."""
    if not ids:
        return 0
    result = await session.execute(delete(Execution).where(Execution.id.in_(ids)))
    return cast(CursorResult[Any], result).rowcount


def encode_executions(dialect: Dialect, rows: Iterable[Sequence[Any]]) -> EncodedRows:
    """Encode execution rows, values in the order of EXECUTION_COLUMNS, for upsert_executions."""
    return encode_rows(dialect, Execution.__table__, EXECUTION_COLUMNS, rows)


def encode_node_executions(
    dialect: Dialect, rows: Iterable[Sequence[Any]], *, as_text: bool = False
) -> EncodedRows:
    """Encode node execution rows, values in the order of NODE_EXECUTION_COLUMNS.

    With ``as_text``, inputs and outputs come as JSON text and times as UTC text.
    """
    text = _NODE_TEXT_COLUMNS if as_text else frozenset()
    return encode_rows(dialect, NodeExecution.__table__, NODE_EXECUTION_COLUMNS, rows, as_text=text)


def select_executions(
    *,
    graph_id: str | None = None,
    status: ExecutionStatus | None = None,
    user_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    score_min: float | None = None,
    score_max: float | None = None,
    after_key: tuple[datetime, str] | None = None,
    where: Sequence[ColumnExpressionArgument[bool]] = (),
) -> Select[Execution]:
    """Return executions newest first, filtered, starting after ``after_key`` (keyset).

    ``where`` adds conditions of features above this one (labels, verdicts).
    """
    stmt = select(Execution).where(*where)
    if graph_id is not None:
        stmt = stmt.where(Execution.graph_id == graph_id)
    if status is not None:
        stmt = stmt.where(Execution.status == status)
    if user_id is not None:
        stmt = stmt.where(Execution.user_id == user_id)
    if created_after is not None:
        stmt = stmt.where(Execution.created_at >= created_after)
    if created_before is not None:
        stmt = stmt.where(Execution.created_at < created_before)
    if score_min is not None:
        stmt = stmt.where(Execution.correctness_score >= score_min)
    if score_max is not None:
        stmt = stmt.where(Execution.correctness_score <= score_max)
    if after_key is not None:
        created_at, execution_id = after_key
        stmt = stmt.where(
            or_(
                Execution.created_at < created_at,
                and_(Execution.created_at == created_at, Execution.id < execution_id),
            )
        )
    return stmt.order_by(Execution.created_at.desc(), Execution.id.desc())


async def get_execution(session: AsyncSession, execution_id: str) -> Execution | None:
    """Return one execution, or None."""
    return await session.get(Execution, execution_id)


async def list_node_executions(session: AsyncSession, execution_id: str) -> Sequence[NodeExecution]:
    """Return an execution's node executions in the order they were queued."""
    stmt = (
        select(NodeExecution)
        .where(NodeExecution.execution_id == execution_id)
        .order_by(NodeExecution.queued_at, NodeExecution.id)
    )
    return (await session.scalars(stmt)).all()


# What the judge reads of a run and of its node runs, in the order of RunRecord's fields.
# Columns of the tables, not of the mapped classes: the rows then come back through Core,
# without the ORM's compile and loading steps.
_RUNS = Execution.__table__.c
_NODE_RUNS = NodeExecution.__table__.c
_RUN_COLUMNS = (
    _RUNS.id,
    _RUNS.graph_id,
    _RUNS.graph_version,
    _RUNS.status,
    _RUNS.started_at,
    _RUNS.ended_at,
    _RUNS.walltime,
    _RUNS.node_count,
    _RUNS.node_error_count,
    _RUNS.error,
    _RUNS.activity_status,
    _RUNS.correctness_score,
)
_NODE_RUN_COLUMNS = (
    _NODE_RUNS.execution_id,
    _NODE_RUNS.id,
    _NODE_RUNS.node_id,
    _NODE_RUNS.block_name,
    _NODE_RUNS.status,
    _NODE_RUNS.input_data,
    _NODE_RUNS.output_data,
    _NODE_RUNS.error,
    _NODE_RUNS.queued_at,
    _NODE_RUNS.started_at,
    _NODE_RUNS.ended_at,
)


# Built once, with the ids as a bind parameter: building them and their cache keys cost
# a backfill more CPU per read than the read itself.
_RUNS_BY_ID = select(*_RUN_COLUMNS).where(_RUNS.id.in_(bindparam("ids", expanding=True)))
_NODE_RUNS_BY_RUN = (
    select(*_NODE_RUN_COLUMNS)
    .where(_NODE_RUNS.execution_id.in_(bindparam("ids", expanding=True)))
    .order_by(_NODE_RUNS.execution_id, _NODE_RUNS.queued_at, _NODE_RUNS.id)
)


async def run_rows(
    session: AsyncSession, ids: Sequence[str]
) -> tuple[Sequence[Any], Sequence[Any]]:
    """Return plain rows of these executions and of their node runs, each run's in order.

    No ORM objects: a backfill reads thousands of runs only to judge them.
    """
    values = {"ids": list(ids)}
    runs = (await session.execute(_RUNS_BY_ID, values)).all()
    nodes = await session.execute(_NODE_RUNS_BY_RUN, values)
    return runs, nodes.all()


async def get_graph(session: AsyncSession, graph_id: str, version: int) -> Graph | None:
    """Return one graph version, or None."""
    return await session.get(Graph, (graph_id, version))


async def get_graph_for_execution(
    session: AsyncSession, graph_id: str, version: int
) -> Graph | None:
    """Return the graph version an execution ran, else the newest stored version, or None."""
    stmt = (
        select(Graph)
        .where(Graph.id == graph_id)
        .order_by((Graph.version == version).desc(), Graph.version.desc())
        .limit(1)
    )
    return await session.scalar(stmt)


async def count_rows(session: AsyncSession) -> dict[str, int]:
    """Return how many graphs, executions and node executions are stored."""
    counts = {}
    for name, model in (
        ("graphs", Graph),
        ("executions", Execution),
        ("node_executions", NodeExecution),
    ):
        counts[name] = await session.scalar(select(func.count()).select_from(model)) or 0
    return counts


def latest_graph_name(graph_id: ColumnExpressionArgument[str]) -> ScalarSelect[str]:
    """Return a subquery for the newest stored name of the graph ``graph_id`` names."""
    return (
        select(Graph.name)
        .where(Graph.id == graph_id)
        .order_by(Graph.version.desc())
        .limit(1)
        .scalar_subquery()
    )


async def graph_has_runs(session: AsyncSession, graph_id: str) -> bool:
    """Tell whether any run of ``graph_id`` is stored."""
    return bool(await session.scalar(select(exists().where(Execution.graph_id == graph_id))))


async def graph_ids(session: AsyncSession, limit: int) -> list[str]:
    """Return up to ``limit`` ids of graphs with runs, in order."""
    stmt = select(Execution.graph_id).distinct().order_by(Execution.graph_id).limit(limit)
    return list((await session.scalars(stmt)).all())


async def graph_overview(session: AsyncSession) -> Sequence[AnyRow]:
    """Return per-graph counts, mean score and newest version of the executions."""
    latest_name = latest_graph_name(Execution.graph_id)
    stmt = (
        select(
            Execution.graph_id,
            func.coalesce(latest_name, Execution.graph_id).label("name"),
            func.count().label("executions"),
            func.count().filter(Execution.status == ExecutionStatus.COMPLETED).label("completed"),
            func.count().filter(Execution.status == ExecutionStatus.FAILED).label("failed"),
            func.count(Execution.correctness_score).label("scored"),
            func.avg(Execution.correctness_score).label("mean_score"),
            func.max(Execution.graph_version).label("latest_version"),
        )
        .group_by(Execution.graph_id)
        .order_by("name")
    )
    return (await session.execute(stmt)).all()
