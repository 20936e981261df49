"""Queries and writes of staged spans and OTLP traces."""

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Row,
    Select,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.db.dialect import encode_rows, one_of, update_rows, upsert_few, utc_text
from execlens.db.engine import Dialect
from execlens.executions.models import Execution
from execlens.otlp.models import OtlpTrace, StagedSpans, TraceState

STAGED_COLUMNS = ("trace_id", "batch_id", "received_at", "span_count", "resource", "spans")
TRACE_COLUMNS = ("trace_id", "state", "first_received_at", "last_received_at", "root_span_id")
_OUTCOME_COLUMNS = ("trace_id", "state", "execution_id", "span_count", "note", "assembled_at")
SPANS = StagedSpans.__table__
TRACES = OtlpTrace.__table__
_STAGED_TIMES = frozenset(("received_at",))
_TRACE_TIMES = frozenset(("first_received_at", "last_received_at"))


async def touch_traces(
    session: AsyncSession, dialect: Dialect, roots: dict[str, str | None], now: datetime
) -> set[str]:
    """Record that spans of these traces arrived now; return those still pending.

    ``roots`` maps a trace to its root span. A trace seen before changes only when its
    root arrives: how long ago its last span arrived, the grace period's clock, is read
    from its staged spans (``ready_traces``). An assembled trace is left as it is.
    """
    pending = TraceState.PENDING.value
    # One time for every row: converted once, not per row.
    at = utc_text(now)
    rows = [(trace_id, pending, at, at, root) for trace_id, root in sorted(roots.items())]
    name = TRACES.name
    # A row the condition leaves alone is still locked (PostgreSQL), as one updated is:
    # the call waits for an assembly of the trace in progress, so it sees its outcome.
    await upsert_few(
        session,
        dialect,
        TRACES,
        TRACE_COLUMNS,
        encode_rows(dialect, TRACES, TRACE_COLUMNS, rows, as_text=_TRACE_TIMES),
        keep_existing=("root_span_id",),
        keep_first=("state", "first_received_at"),
        update_where=(
            f"excluded.root_span_id IS NOT NULL AND {name}.root_span_id IS NULL "
            f"AND {name}.state = '{pending}'"
        ),
    )
    stmt = select(TRACES.c.trace_id).where(
        one_of(dialect, TRACES.c.trace_id, list(roots)), TRACES.c.state != pending
    )
    return roots.keys() - set((await session.scalars(stmt)).all())


async def unstage(session: AsyncSession, trace_ids: Collection[str]) -> None:
    """Delete the staged spans of these traces."""
    spans = SPANS
    await session.execute(delete(spans).where(spans.c.trace_id.in_(list(trace_ids))))


async def stage_spans(
    session: AsyncSession, dialect: Dialect, rows: Sequence[Sequence[Any]]
) -> None:
    """Store rows of staged spans, values in the order of STAGED_COLUMNS.

    ``received_at`` comes as UTC text (``utc_text``).
    """
    table = SPANS
    encoded = encode_rows(dialect, table, STAGED_COLUMNS, rows, as_text=_STAGED_TIMES)
    await upsert_few(session, dialect, table, STAGED_COLUMNS, encoded)


def ready_traces(
    dialect: Dialect, *, settled_before: datetime, abandoned_before: datetime, limit: int
) -> Select[str, datetime]:
    """Return (trace id, first received) of pending traces to assemble now, oldest first.

    Ready means: the root span arrived and nothing arrived since ``settled_before`` (the
    grace period), or the first span arrived before ``abandoned_before`` (the trace never
    ended). On PostgreSQL, traces another process is assembling are skipped.
    """
    # A trace's row holds when its root arrived; spans that came later, only their rows.
    later_spans = select(SPANS.c.trace_id).where(
        SPANS.c.trace_id == OtlpTrace.trace_id, SPANS.c.received_at > settled_before
    )
    ready: ColumnElement[bool] = or_(
        OtlpTrace.root_span_id.is_not(None)
        & (OtlpTrace.last_received_at <= settled_before)
        & ~later_spans.exists(),
        OtlpTrace.first_received_at <= abandoned_before,
    )
    stmt = (
        select(OtlpTrace.trace_id, OtlpTrace.first_received_at)
        .where(OtlpTrace.state == TraceState.PENDING.value, ready)
        .order_by(OtlpTrace.last_received_at)
        .limit(limit)
    )
    # SQLite drops the clause; its writer holds the database's write lock instead.
    return stmt.with_for_update(skip_locked=True) if dialect == "postgresql" else stmt


async def span_counts(
    session: AsyncSession, dialect: Dialect, trace_ids: Sequence[str]
) -> dict[str, int]:
    """Return how many spans are staged per trace, for the traces that have any."""
    table = SPANS
    stmt = (
        select(table.c.trace_id, func.sum(table.c.span_count))
        .where(one_of(dialect, table.c.trace_id, trace_ids))
        .group_by(table.c.trace_id)
    )
    return {trace_id: int(count) for trace_id, count in await session.execute(stmt)}


async def staged_spans(
    session: AsyncSession, dialect: Dialect, trace_ids: Sequence[str]
) -> Sequence[Row[str, bytes, bytes]]:
    """Return (trace id, resource, spans) rows of these traces, in the order received."""
    table = SPANS
    stmt = (
        select(table.c.trace_id, table.c.resource, table.c.spans)
        .where(one_of(dialect, table.c.trace_id, trace_ids))
        .order_by(table.c.received_at, table.c.batch_id)
    )
    return (await session.execute(stmt)).all()


async def mark_assembled(
    session: AsyncSession, dialect: Dialect, outcomes: Sequence[dict[str, Any]], now: datetime
) -> None:
    """Record what traces became (trace_id, execution_id, span_count, note); drop their spans."""
    assembled = TraceState.ASSEMBLED.value
    rows = [
        (o["trace_id"], assembled, o["execution_id"], o["span_count"], o["note"], now)
        for o in outcomes
    ]
    encoded = encode_rows(dialect, TRACES, _OUTCOME_COLUMNS, rows)
    await update_rows(session, dialect, TRACES, _OUTCOME_COLUMNS, encoded)
    spans = SPANS
    await session.execute(
        delete(spans).where(one_of(dialect, spans.c.trace_id, [o["trace_id"] for o in outcomes]))
    )


async def foreign_executions(
    session: AsyncSession, dialect: Dialect, execution_ids: Sequence[str]
) -> set[str]:
    """Return which of these execution ids are taken by executions that did not come by OTLP."""
    linked = select(OtlpTrace.execution_id).where(
        one_of(dialect, TRACES.c.execution_id, execution_ids)
    )
    stmt = select(Execution.id).where(
        one_of(dialect, Execution.__table__.c.id, execution_ids), Execution.id.not_in(linked)
    )
    return set((await session.scalars(stmt)).all())


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
    """Return how many spans wait for their trace to be assembled."""
    return await session.scalar(select(func.sum(SPANS.c.span_count))) or 0
