"""Queries and writes of OTLP traces: their rows, their running executions, their spans."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    CTE,
    ColumnElement,
    CompoundSelect,
    CursorResult,
    FromClause,
    Integer,
    Row,
    Select,
    case,
    delete,
    func,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.db.dialect import (
    SQLITE_MAX_PARAMETERS,
    CopyRecords,
    encode_rows,
    in_order,
    insert_new,
    one_of,
    update_rows,
    utc_text,
)
from execlens.db.engine import Dialect
from execlens.executions.models import Execution, ExecutionStatus, NodeExecution
from execlens.executions.repository import NODE_EXECUTION_COLUMNS
from execlens.otlp.assembly import NodeRow, NodeSummary, RootFacts, TraceFacts
from execlens.otlp.models import OtlpTrace, StagedSpans, TraceState

_STAGED_COLUMNS = ("trace_id", "batch_id", "received_at", "resource", "spans")
_OUTCOME_COLUMNS = ("trace_id", "state", "execution_id", "span_count", "note", "assembled_at")
_EXECUTION_COLUMNS = (
    "id",
    "graph_id",
    "user_id",
    "status",
    "created_at",
    "started_at",
    "ended_at",
    "walltime",
    "node_count",
    "node_error_count",
    "error",
    "arrived_at",
)
SPANS = StagedSpans.__table__
TRACES = OtlpTrace.__table__
NODES = NodeExecution.__table__
_PENDING = TraceState.PENDING.value
_FAILED = ExecutionStatus.FAILED.value
# A stored UTC text time, read as UTC (PostgreSQL); SQLite stores that text as it is.
_PG_TIME = "CAST({} AS timestamp) AT TIME ZONE 'UTC'"


@dataclass(frozen=True)
class _Columns:
    """Rows sent to a statement as a common table expression named ``v``."""

    names: tuple[str, ...]
    # PostgreSQL's type of each column's array.
    kinds: tuple[str, ...]

    def chunks(
        self, dialect: Dialect, rows: Sequence[Sequence[Any]]
    ) -> Iterator[tuple[str, tuple[Any, ...]]]:
        """Yield (the CTE, its parameters) for all rows: one on PostgreSQL, a few on SQLite."""
        if not rows:
            return
        if dialect == "postgresql":
            arrays = ", ".join(f"${n}::{k}[]" for n, k in enumerate(self.kinds, start=1))
            cte = f"WITH v AS (SELECT * FROM unnest({arrays}) AS u ({', '.join(self.names)}))"
            yield cte, tuple(list(column) for column in zip(*rows, strict=True))
            return
        row = f"({', '.join('?' * len(self.names))})"
        # The times bound after the rows take up to two more parameters (see _now).
        step = (SQLITE_MAX_PARAMETERS - 2) // len(self.names)
        for start in range(0, len(rows), step):
            part = rows[start : start + step]
            cte = f"WITH v ({', '.join(self.names)}) AS (VALUES {', '.join([row] * len(part))})"
            yield cte, tuple(value for values in part for value in values)


_NEW_TRACES = _Columns(
    (
        "trace_id",
        "root_span_id",
        "agent_name",
        "service_name",
        "user_id",
        "trimmed_values",
        "dropped_spans",
        "graph_id",
        "created_at",
    ),
    ("text", "text", "text", "text", "text", "int", "int", "text", "text"),
)
_SEEN_TRACES = _Columns(
    (
        "trace_id",
        "root_span_id",
        "root_agent",
        "agent_name",
        "service_name",
        "user_id",
        "trimmed_values",
        "dropped_spans",
    ),
    ("text", "text", "text", "text", "text", "text", "int", "int"),
)
# A node execution's columns, then the span's parent (OTLP alone writes it).
_NODES = _Columns(
    (*NODE_EXECUTION_COLUMNS, "parent_id"),
    ("text",) * 5 + ("json", "json", "text") + ("timestamptz",) * 3 + ("text",),
)


def _by_trace(rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
    """Return rows in the order of their trace ids (first value): the order locks are taken."""
    return sorted(rows, key=lambda row: str(row[0]))


def _time(dialect: Dialect, column: str) -> str:
    return _PG_TIME.format(column) if dialect == "postgresql" else column


def _now(dialect: Dialect, count: int) -> str:
    """Return the placeholder of ``now``, the parameter after ``count`` others."""
    return f"${count + 1}::timestamptz" if dialect == "postgresql" else "?"


def _when(dialect: Dialect, now: datetime) -> Any:
    return now if dialect == "postgresql" else utc_text(now)


async def _run(
    session: AsyncSession, sql: str, params: tuple[Any, ...], returning: bool = False
) -> list[Any]:
    connection = await session.connection()
    result = await connection.exec_driver_sql(sql, params)
    return list(result.scalars()) if returning else []


async def insert_new_traces(
    session: AsyncSession, dialect: Dialect, rows: Sequence[Sequence[Any]], now: datetime
) -> set[str]:
    """Insert rows of traces seen for the first time (values: _NEW_TRACES); return those new.

    A trace stored already (by an earlier request, or by one committing meanwhile, which
    this waits for) is left as it is.
    """
    new: set[str] = set()
    at = _when(dialect, now)
    for cte, params in _NEW_TRACES.chunks(dialect, _by_trace(rows)):
        now_at = _now(dialect, len(_NEW_TRACES.names))
        sql = (
            f"{cte} INSERT INTO otlp_traces (trace_id, state, first_received_at, "
            "last_received_at, root_span_id, execution_id, agent_name, service_name, user_id, "
            "trimmed_values, dropped_spans) "
            f"SELECT trace_id, '{_PENDING}', {now_at}, {now_at}, root_span_id, trace_id, "
            "agent_name, service_name, user_id, trimmed_values, dropped_spans FROM v "
            "WHERE true ORDER BY trace_id ON CONFLICT (trace_id) DO NOTHING RETURNING trace_id"
        )
        # PostgreSQL numbers its parameters; SQLite's come in the order of the text.
        values = params + ((at,) if dialect == "postgresql" else (at, at))
        new.update(await _run(session, sql, values, returning=True))
    return new


async def place_executions(
    session: AsyncSession, dialect: Dialect, rows: Sequence[Sequence[Any]]
) -> set[str]:
    """Insert the RUNNING execution of each new trace (values: _NEW_TRACES); return those placed.

    One that is not placed has an execution with its id already, which did not come by
    OTLP: it is left as it is.
    """
    placed: set[str] = set()
    for cte, params in _NEW_TRACES.chunks(dialect, _by_trace(rows)):
        created = _time(dialect, "created_at")
        sql = (
            f"{cte} INSERT INTO executions (id, graph_id, graph_version, user_id, status, "
            "created_at, started_at) "
            f"SELECT trace_id, graph_id, 1, coalesce(user_id, 'unknown'), 'RUNNING', "
            f"{created}, {created} FROM v WHERE true ORDER BY trace_id "
            "ON CONFLICT (id) DO NOTHING RETURNING id"
        )
        placed.update(await _run(session, sql, params, returning=True))
    return placed


async def refuse_trace(session: AsyncSession, trace_id: str, note: str, now: datetime) -> None:
    """Record that a trace will not be stored, and why."""
    await session.execute(
        update(OtlpTrace)
        .where(OtlpTrace.trace_id == trace_id)
        .values(
            state=TraceState.ASSEMBLED.value,
            execution_id=None,
            span_count=0,
            note=note,
            assembled_at=now,
        )
    )


class Known(NamedTuple):
    """What a stored trace's row says, as ingest needs it.

    A tuple: one is made for every trace of every request, and a dataclass takes twice
    as long to make.
    """

    receiving: bool
    root: bool
    agent: bool
    service: bool
    user: bool


_LOOKUP = _Columns(("trace_id",), ("text",))
_YES = "y".__eq__
_FLAGS = (
    f"(CASE WHEN t.state = '{_PENDING}' AND EXISTS (SELECT 1 FROM executions e "
    "WHERE e.id = t.execution_id) THEN 'y' ELSE 'n' END)"
    " || (CASE WHEN t.root_span_id IS NULL THEN 'n' ELSE 'y' END)"
    " || (CASE WHEN t.agent_name IS NULL THEN 'n' ELSE 'y' END)"
    " || (CASE WHEN t.service_name IS NULL THEN 'n' ELSE 'y' END)"
    " || (CASE WHEN t.user_id IS NULL THEN 'n' ELSE 'y' END)"
)


async def lookup(
    session: AsyncSession, dialect: Dialect, trace_ids: Sequence[str]
) -> dict[str, Known]:
    """Return what is stored of these traces, for those stored.

    ``receiving``: pending, with its execution stored (so it takes spans).
    """
    # Each trace looked up by key in a subquery: a join planned from the statistics of
    # tables that grew since may read every trace in flight at every request.
    known: dict[str, Known] = {}
    for cte, params in _LOOKUP.chunks(dialect, [(t,) for t in trace_ids]):
        sql = (
            f"{cte} SELECT v.trace_id, (SELECT {_FLAGS} FROM otlp_traces t "
            "WHERE t.trace_id = v.trace_id) FROM v"
        )
        connection = await session.connection()
        result = await connection.exec_driver_sql(sql, params)
        for trace_id, flags in cast(list[tuple[str, str | None]], result.all()):
            if flags is not None:
                known[trace_id] = Known._make(map(_YES, flags))
    return known


async def update_seen_traces(
    session: AsyncSession, dialect: Dialect, rows: Sequence[Sequence[Any]], now: datetime
) -> set[str]:
    """Record what new spans of stored traces say (values: _SEEN_TRACES); return those pending.

    Its root arrived now (its agent then names the run), a span arrived after its root
    (the grace period starts again), a first agent, service or user, values cut, spans
    dropped. A trace no longer pending (finished meanwhile) is left as it is. On
    PostgreSQL the rows are locked in trace order: concurrent requests never deadlock,
    and a trace being finished is waited for, then seen finished.
    """
    sets = (
        "root_span_id = coalesce(t.root_span_id, v.root_span_id), "
        "agent_name = CASE WHEN t.root_span_id IS NULL AND v.root_agent IS NOT NULL "
        "THEN v.root_agent ELSE coalesce(t.agent_name, v.agent_name) END, "
        "service_name = coalesce(t.service_name, v.service_name), "
        "user_id = coalesce(t.user_id, v.user_id), "
        "trimmed_values = t.trimmed_values + v.trimmed_values, "
        "dropped_spans = t.dropped_spans + v.dropped_spans, "
        "last_received_at = CASE WHEN t.root_span_id IS NOT NULL OR v.root_span_id IS NOT NULL "
        "THEN {now} ELSE t.last_received_at END"
    )
    pending: set[str] = set()
    for cte, params in _SEEN_TRACES.chunks(dialect, _by_trace(rows)):
        if dialect == "postgresql":
            now_at = _now(dialect, len(_SEEN_TRACES.names))
            # By key only: the state is checked by the UPDATE, on the row's newest version.
            locked = (
                ", locked AS (SELECT t.trace_id FROM otlp_traces t WHERE t.trace_id IN "
                "(SELECT trace_id FROM v) ORDER BY t.trace_id FOR UPDATE OF t)"
            )
            sql = (
                f"{cte}{locked} UPDATE otlp_traces AS t SET {sets.format(now=now_at)} FROM v "
                "WHERE v.trace_id = t.trace_id AND t.trace_id IN (SELECT trace_id FROM locked) "
                f"AND t.state = '{_PENDING}' RETURNING t.trace_id"
            )
        else:
            # SQLite has one writer at a time: nothing to lock.
            sql = (
                f"{cte} UPDATE otlp_traces AS t SET {sets.format(now='?')} FROM v "
                # RETURNING names the updated table's columns, without its alias.
                f"WHERE v.trace_id = t.trace_id AND t.state = '{_PENDING}' RETURNING trace_id"
            )
        values = (*params, _when(dialect, now))
        pending.update(await _run(session, sql, values, returning=True))
    return pending


async def insert_nodes(session: AsyncSession, dialect: Dialect, rows: Sequence[NodeRow]) -> None:
    """Insert node rows of spans; a span stored already keeps its first copy.

    On PostgreSQL the times are datetimes, and the rows go by binary COPY unless one is
    stored already (a re-sent span): then by an insert that skips those.
    """
    if not rows:
        return
    if dialect == "postgresql":
        copy = [(NODES, _NODES.names, CopyRecords(list(rows)))]
        if await insert_new(session, dialect, copy):
            return
    names = ", ".join(_NODES.names)
    for cte, params in _NODES.chunks(dialect, rows):
        sql = (
            f"{cte} INSERT INTO node_executions ({names}) "
            f"SELECT {names} FROM v WHERE true ON CONFLICT (id) DO NOTHING"
        )
        await _run(session, sql, params)


async def ready(
    session: AsyncSession,
    dialect: Dialect,
    *,
    settled_before: datetime,
    abandoned_before: datetime,
    limit: int,
) -> list[TraceFacts]:
    """Return the pending traces to finish now, oldest first.

    Ready means: the root span arrived and nothing arrived since ``settled_before`` (the
    grace period), or the first span arrived before ``abandoned_before`` (the trace never
    ended). On PostgreSQL, traces another process is finishing, or an ingest is
    updating, are skipped.
    """
    ready = or_(
        OtlpTrace.root_span_id.is_not(None) & (OtlpTrace.last_received_at <= settled_before),
        OtlpTrace.first_received_at <= abandoned_before,
    )
    stmt = (
        select(*(TRACES.c[name] for name in TraceFacts._fields))
        .where(OtlpTrace.state == _PENDING, ready)
        .order_by(OtlpTrace.last_received_at)
        .limit(limit)
    )
    if dialect == "postgresql":
        # SQLite has no such clause; its writer holds the database's write lock instead.
        stmt = stmt.with_for_update(skip_locked=True)
    return [TraceFacts(*row) for row in await session.execute(stmt)]


async def drop_nodes_over(
    session: AsyncSession, trace_id: str, root_id: str | None, keep: int
) -> int:
    """Delete a trace's node executions past the first ``keep`` (root first); return how many."""
    order: list[Any] = [NodeExecution.started_at, NodeExecution.id]
    if root_id is not None:
        order.insert(0, (NodeExecution.id == root_id).desc())
    stmt = (
        select(NodeExecution.id)
        .where(NodeExecution.execution_id == trace_id)
        .order_by(*order)
        .offset(keep)
    )
    extra = list((await session.scalars(stmt)).all())
    for start in range(0, len(extra), 500):
        part = extra[start : start + 500]
        await session.execute(delete(NodeExecution).where(NodeExecution.id.in_(part)))
    return len(extra)


@dataclass
class BatchNodes:
    """The node executions of the traces a batch takes, as ``node_summaries`` reads them."""

    # How many node executions each trace taken has.
    counts: dict[str, int] = field(default_factory=dict)
    # Those of each trace taken within the span limit, summed up (none: no such nodes).
    summaries: dict[str, NodeSummary] = field(default_factory=dict)


def _node_groups(where: ColumnElement[bool]) -> CTE:
    """Return the node executions ``where`` says, grouped by trace, block and parent span."""
    return (
        select(
            NODES.c.execution_id,
            NODES.c.node_id,
            NODES.c.parent_id,
            func.max(NODES.c.block_name).label("block"),
            # Integers: PostgreSQL sums bigints as numerics, which the driver reads slowly.
            func.count().cast(Integer).label("nodes"),
            func.sum(case((NODES.c.status == _FAILED, 1), else_=0)).cast(Integer).label("failed"),
            func.min(NODES.c.started_at).label("first"),
            func.max(NODES.c.ended_at).label("last"),
        )
        .where(where)
        .group_by(NODES.c.execution_id, NODES.c.node_id, NODES.c.parent_id)
        .cte("groups")
    )


def _taken(
    dialect: Dialect, trace_ids: Sequence[str], counts: FromClause, budget: int | None
) -> CTE:
    """Return the traces taken, with their node counts summed from ``counts``' rows.

    Those whose counts, summed in the order of ``trace_ids``, come to at most ``budget``
    (all without one), and the first always.
    """
    asked = in_order(dialect, trace_ids)
    totals = (
        select(
            asked.c.value.label("trace_id"),
            asked.c.position,
            func.coalesce(func.sum(counts.c.nodes), 0).label("nodes"),
        )
        .select_from(asked.outerjoin(counts, counts.c.execution_id == asked.c.value))
        .group_by(asked.c.value, asked.c.position)
        .subquery("totals")
    )
    order = totals.c.position
    running = select(
        totals.c.trace_id,
        totals.c.nodes,
        func.row_number().over(order_by=order).label("place"),
        func.sum(totals.c.nodes).over(order_by=order).label("total"),
    ).subquery("running")
    chosen = true() if budget is None else (running.c.place == 1) | (running.c.total <= budget)
    return select(running.c.trace_id, running.c.nodes).where(chosen).cte("taken")


def _summed(taken: CTE, max_spans: int | None) -> Select[Any]:
    """Return the ids of the traces taken that are summed up: those within ``max_spans``."""
    summed = select(taken.c.trace_id)
    return summed if max_spans is None else summed.where(taken.c.nodes <= max_spans)


def _summary_statement(
    dialect: Dialect, trace_ids: Sequence[str], budget: int | None, max_spans: int | None
) -> CompoundSelect[Any]:
    """Return the query of ``node_summaries``: groups of node executions, then trace counts.

    Only the groups of a trace taken, within the span limit, are joined to their parents:
    one probe per group, not per node. A row of a group has no count; a trace's count row
    has no group.
    """
    asked = one_of(dialect, NODES.c.execution_id, trace_ids)
    if dialect == "postgresql":
        # Each trace's nodes are read once, grouped (counting them first would read them
        # too: PostgreSQL checks in the table which rows it may see); the counts, summed
        # from the groups, choose the traces.
        groups = _node_groups(asked)
        taken = _taken(dialect, trace_ids, groups, budget)
        summed = _summed(taken, max_spans)
    else:
        # SQLite counts from its index on execution_id alone: the nodes of the traces not
        # taken (many, when traces are long) are never read.
        counts = select(NODES.c.execution_id, func.count().label("nodes"))
        counts = counts.where(asked).group_by(NODES.c.execution_id)
        taken = _taken(dialect, trace_ids, counts.subquery("counts"), budget)
        summed = _summed(taken, max_spans)
        groups = _node_groups(NODES.c.execution_id.in_(summed))
    parent = NODES.alias("p")
    orphan = groups.c.parent_id.is_not(None) & parent.c.id.is_(None)
    # The traces summed up chosen by IN, not by a join: SQLite would read all groups once
    # per trace taken.
    grouped = (
        select(
            groups.c.execution_id,
            null(),
            groups.c.node_id,
            func.max(groups.c.block),
            parent.c.node_id,
            func.sum(groups.c.nodes),
            func.sum(groups.c.failed),
            func.sum(case((orphan, groups.c.nodes), else_=0)),
            func.min(groups.c.first),
            func.max(groups.c.last),
        )
        .select_from(groups.outerjoin(parent, parent.c.id == groups.c.parent_id))
        .where(groups.c.execution_id.in_(summed))
        .group_by(groups.c.execution_id, groups.c.node_id, parent.c.node_id)
    )
    counted = select(taken.c.trace_id, taken.c.nodes, *[null()] * 8)
    return union_all(grouped, counted)


async def node_summaries(
    session: AsyncSession,
    dialect: Dialect,
    trace_ids: Sequence[str],
    *,
    budget: int | None = None,
    max_spans: int | None = None,
) -> BatchNodes:
    """Return the node executions of the first of these traces that fit in ``budget``.

    The traces taken: those whose node executions, summed in the order given, come to at
    most ``budget`` (all without one), and the first always. Each is counted, and summed
    up by the database unless it has more than ``max_spans``.
    """
    stmt = _summary_statement(dialect, trace_ids, budget, max_spans)
    found = BatchNodes()
    for (
        trace_id,
        nodes,
        node_id,
        block,
        parent_node,
        count,
        failed,
        orphans,
        first,
        last,
    ) in await session.execute(stmt):
        if node_id is None:
            found.counts[trace_id] = nodes
        else:
            summary = found.summaries.setdefault(trace_id, NodeSummary())
            summary.add(node_id, block, parent_node, (count, failed, orphans), first, last)
    return found


async def roots(
    session: AsyncSession, dialect: Dialect, ids: Sequence[str]
) -> dict[str, RootFacts]:
    """Return the root spans' node executions by their ids (trace id:span id)."""
    if not ids:
        return {}
    stmt = select(
        NodeExecution.id,
        NodeExecution.status,
        NodeExecution.error,
        NodeExecution.started_at,
        NodeExecution.ended_at,
    ).where(one_of(dialect, NODES.c.id, ids))
    return {row[0]: RootFacts(row[1].value, *row[2:]) for row in await session.execute(stmt)}


async def finish_executions(
    session: AsyncSession, dialect: Dialect, values: Sequence[dict[str, Any]], now: datetime
) -> None:
    """Give finished traces' executions their final values; they arrive now."""
    rows = [(*(v[c] for c in _EXECUTION_COLUMNS[:-1]), now) for v in values]
    encoded = encode_rows(dialect, Execution.__table__, _EXECUTION_COLUMNS, rows)
    await update_rows(session, dialect, Execution.__table__, _EXECUTION_COLUMNS, encoded)


async def mark_assembled(
    session: AsyncSession, dialect: Dialect, outcomes: Sequence[dict[str, Any]], now: datetime
) -> None:
    """Record what traces became (trace_id, execution_id, span_count, note)."""
    assembled = TraceState.ASSEMBLED.value
    rows = [
        (o["trace_id"], assembled, o["execution_id"], o["span_count"], o["note"], now)
        for o in outcomes
    ]
    encoded = encode_rows(dialect, TRACES, _OUTCOME_COLUMNS, rows)
    await update_rows(session, dialect, TRACES, _OUTCOME_COLUMNS, encoded)


async def staged_batch(session: AsyncSession, limit: int) -> Sequence[Row[Any]]:
    """Return up to ``limit`` rows of spans staged before migration 0022, oldest first."""
    stmt = (
        select(*(SPANS.c[name] for name in _STAGED_COLUMNS))
        .order_by(SPANS.c.received_at, SPANS.c.batch_id)
        .limit(limit)
    )
    return (await session.execute(stmt)).all()


async def unstage(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> None:
    """Delete staged rows by (trace id, batch id)."""
    for trace_id, batch_id in keys:
        await session.execute(
            delete(SPANS).where(SPANS.c.trace_id == trace_id, SPANS.c.batch_id == batch_id)
        )


async def prune_traces(session: AsyncSession, assembled_before: datetime) -> int:
    """Delete traces assembled before then that link no stored execution; return how many."""
    linked = select(Execution.id).where(Execution.id == OtlpTrace.execution_id)
    stmt = delete(OtlpTrace).where(
        OtlpTrace.state == TraceState.ASSEMBLED.value,
        OtlpTrace.assembled_at < assembled_before,
        ~linked.exists(),
    )
    result = await session.execute(stmt)
    return cast(CursorResult[Any], result).rowcount


async def trace_links(
    session: AsyncSession, execution_ids: Sequence[str]
) -> dict[str, tuple[str, str | None]]:
    """Return (trace id, root span id) of the executions that came in by OTLP."""
    stmt = select(OtlpTrace.execution_id, OtlpTrace.trace_id, OtlpTrace.root_span_id).where(
        OtlpTrace.execution_id.in_(execution_ids)
    )
    return {
        row.execution_id: (row.trace_id, row.root_span_id) for row in await session.execute(stmt)
    }


async def get_trace(session: AsyncSession, trace_id: str) -> OtlpTrace | None:
    """Return one trace's state, or None."""
    return await session.get(OtlpTrace, trace_id)


async def count_staged(session: AsyncSession) -> int:
    """Return how many spans staged before migration 0022 wait to be written as now."""
    return await session.scalar(select(func.sum(SPANS.c.span_count))) or 0


async def count_pending(session: AsyncSession) -> int:
    """Return how many traces are still arriving (not finished)."""
    stmt = select(func.count()).select_from(OtlpTrace).where(OtlpTrace.state == _PENDING)
    return await session.scalar(stmt) or 0
