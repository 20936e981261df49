"""Queries behind accuracy trends and the alerts the monitor keeps."""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Float,
    Integer,
    Row,
    Select,
    String,
    bindparam,
    case,
    column,
    func,
    literal,
    over,
    select,
    table,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.db.dialect import utc_day_number
from execlens.db.engine import Dialect
from execlens.executions.models import FINISHED_CONDITION, FINISHED_STATUSES, Execution
from execlens.executions.repository import latest_graph_name
from execlens.jobs.models import ACTIVE_STATUSES, AnalyticsJob, ItemStatus, JobItem
from execlens.trends.models import (
    AccuracyAlert,
    AlertState,
    HealthAlert,
    HealthAlertKind,
    TrendWindow,
)

# The averages' window sizes in days (calendar) or in days with data (rows).
WINDOWS = {"three_day_avg": 3, "seven_day_avg": 7, "fourteen_day_avg": 14}
# Day numbers (``day_number`` rows, ``since_day``) count days from this date, in UTC.
EPOCH = date(1970, 1, 1)
# A select whose columns are built up at run time.
AnySelect = Select[*tuple[Any, ...]]


@cache
def select_daily_trend(
    dialect: Dialect,
    *,
    window: TrendWindow = "calendar",
    newest_only: bool = False,
    by_user: bool = False,
) -> AnySelect:
    """Return one row per UTC day with data, newest first: counts, score and moving averages.

    Bind parameters: ``graph_id``, ``since_day`` (the first day number), ``since`` (the
    first instant, `rows` window only) and ``user_id`` (``by_user`` only); see
    ``daily_trend_params``. Built once per shape and reused.

    One statement. The inner part counts each day's finished runs and averages their
    scores; the outer part runs the window functions over those few day rows. On SQLite, a
    trend of all users reads the per-day totals its triggers keep (migration 0006); every
    other trend reads the partial index of finished runs on (graph_id, UTC day number, …),
    in day order.
    """
    if dialect == "sqlite" and not by_user:
        days = _sqlite_day_totals(window)
    else:
        days = _daily_from_index(dialect, window=window, by_user=by_user)
    daily = days.subquery("daily")

    def frame(size: int) -> dict[str, Any]:
        bounds = (-(size - 1), 0)
        return {"order_by": daily.c.day, "rows" if window == "rows" else "range_": bounds}

    averages = [
        over(func.avg(daily.c.daily_score), **frame(size)).label(name)
        for name, size in WINDOWS.items()
    ]
    min_samples = over(func.sum(daily.c.scored), **frame(WINDOWS["three_day_avg"]))
    stmt = select(
        daily.c.day.label("day_number"),
        daily.c.executions,
        daily.c.scored,
        daily.c.daily_score,
        *averages,
        min_samples.label("min_samples"),
    ).order_by(daily.c.day.desc())
    return stmt.limit(1) if newest_only else stmt


def daily_trend_params(graph_id: str, since: datetime, user_id: str | None) -> dict[str, Any]:
    """Return the bind parameters of ``select_daily_trend`` from the first instant covered."""
    since_day = (since.astimezone(UTC).date() - EPOCH).days
    params = {"graph_id": graph_id, "since_day": since_day, "since": since}
    return params if user_id is None else params | {"user_id": user_id}


def _daily_from_index(
    dialect: Dialect, *, window: TrendWindow, by_user: bool, first_day_only: bool = False
) -> AnySelect:
    day = utc_day_number(dialect, Execution.created_at)
    since_day = bindparam("since_day", type_=Integer)
    daily = (
        select(
            day.label("day"),
            func.count().label("executions"),
            func.count(Execution.correctness_score).label("scored"),
            (func.avg(Execution.correctness_score) * 100).label("daily_score"),
        )
        .where(
            Execution.graph_id == bindparam("graph_id"),
            day == since_day if first_day_only else day >= since_day,
            FINISHED_CONDITION,
        )
        .group_by(day)
    )
    if by_user:
        daily = daily.where(Execution.user_id == bindparam("user_id"))
    if window == "rows":
        # Upstream's cut-off is an instant, not a day boundary.
        daily = daily.where(Execution.created_at >= bindparam("since"))
    return daily


# SQLite only: each graph's per-day totals of finished runs, kept by triggers.
_execution_days = table(
    "execution_days",
    column("graph_id", String),
    column("day", Integer),
    column("executions", Integer),
    column("scored", Integer),
    column("score_sum", Float),
)


def _sqlite_day_totals(window: TrendWindow) -> AnySelect | CompoundSelect[*tuple[Any, ...]]:
    days = _execution_days.c
    since_day = bindparam("since_day", type_=Integer)
    totals = select(
        days.day,
        days.executions,
        days.scored,
        case((days.scored > 0, days.score_sum / days.scored * 100)).label("daily_score"),
        # A day whose runs were all deleted or reopened keeps a row of zeros.
    ).where(days.graph_id == bindparam("graph_id"), days.executions > 0)
    if window == "calendar":
        return totals.where(days.day >= since_day)
    # Upstream's lookback starts at an instant: the totals give the whole days after it,
    # the index the runs of its first, partial day.
    first_day = _daily_from_index("sqlite", window=window, by_user=False, first_day_only=True)
    return union_all(totals.where(days.day > since_day), first_day)


def select_active_graphs(since: datetime | None, min_executions: int = 1) -> AnySelect:
    """Return graphs with at least ``min_executions`` finished runs since ``since``, and names."""
    latest_name = latest_graph_name(Execution.graph_id)
    stmt = (
        select(
            Execution.graph_id,
            func.coalesce(latest_name, Execution.graph_id).label("name"),
            func.count().label("executions"),
        )
        .where(Execution.status.in_(FINISHED_STATUSES))
        .group_by(Execution.graph_id)
        .having(func.count() >= min_executions)
        .order_by("name", Execution.graph_id)
    )
    return stmt if since is None else stmt.where(Execution.created_at >= since)


async def graph_name(session: AsyncSession, graph_id: str) -> str | None:
    """Return the newest stored name of a graph, or None."""
    return await session.scalar(select(latest_graph_name(literal(graph_id))))


def select_alerts(
    *, state: AlertState | None = None, graph_id: str | None = None
) -> Select[AccuracyAlert]:
    """Return alerts newest first, optionally only one state or one graph."""
    stmt = select(AccuracyAlert)
    if state is not None:
        stmt = stmt.where(AccuracyAlert.state == state)
    if graph_id is not None:
        stmt = stmt.where(AccuracyAlert.graph_id == graph_id)
    return stmt.order_by(AccuracyAlert.detected_at.desc(), AccuracyAlert.id.desc())


def select_alerts_with_names(
    *, state: AlertState | None = None, graph_id: str | None = None
) -> Select[AccuracyAlert, str | None]:
    """Return ``select_alerts`` rows with each graph's newest name (None when not stored)."""
    name = latest_graph_name(AccuracyAlert.graph_id)
    return select_alerts(state=state, graph_id=graph_id).add_columns(name.label("name"))


async def open_alert(session: AsyncSession, graph_id: str, user_scope: str) -> AccuracyAlert | None:
    """Return the open alert of a graph and user scope, or None."""
    stmt = select_alerts(state="open", graph_id=graph_id).where(
        AccuracyAlert.user_scope == user_scope
    )
    return await session.scalar(stmt)


def select_health_alerts(
    *, state: AlertState | None = None, kind: HealthAlertKind | None = None
) -> Select[HealthAlert]:
    """Return evaluator-health alerts newest first, optionally one state or one kind."""
    stmt = select(HealthAlert)
    if state is not None:
        stmt = stmt.where(HealthAlert.state == state)
    if kind is not None:
        stmt = stmt.where(HealthAlert.kind == kind)
    return stmt.order_by(HealthAlert.detected_at.desc(), HealthAlert.id.desc())


async def open_health_alert(session: AsyncSession, kind: str, scope: str) -> HealthAlert | None:
    """Return the open health alert of a kind and scope, or None."""
    stmt = select_health_alerts(state="open").where(
        HealthAlert.kind == kind, HealthAlert.scope == scope
    )
    return await session.scalar(stmt)


async def open_health_keys(session: AsyncSession) -> list[tuple[str, str]]:
    """Return the (kind, scope) of every open health alert."""
    stmt = select(HealthAlert.kind, HealthAlert.scope).where(HealthAlert.state == "open")
    return [(kind, scope) for kind, scope in (await session.execute(stmt)).all()]


async def judge_failures_by_graph(
    session: AsyncSession, since: datetime
) -> Sequence[Row[str, str, int]]:
    """Return (graph id, name, failed items) of agents whose runs failed judging since ``since``.

    Only jobs updated since then are read: an item is judged in the transaction that
    moves its job's ``updated_at``, so older jobs hold no newer failures, and the items of
    the recent ones are found by their (job_id, status) index.
    """
    failed = func.count().label("failed")
    stmt = (
        select(
            Execution.graph_id,
            func.coalesce(latest_graph_name(Execution.graph_id), Execution.graph_id),
            failed,
        )
        .select_from(JobItem)
        .join(AnalyticsJob, AnalyticsJob.id == JobItem.job_id)
        .join(Execution, Execution.id == JobItem.execution_id)
        .where(
            AnalyticsJob.updated_at >= since,
            JobItem.status == ItemStatus.FAILED,
            JobItem.judged_at >= since,
        )
        .group_by(Execution.graph_id)
        .order_by(Execution.graph_id)
    )
    return (await session.execute(stmt)).all()


async def active_backfill_jobs(
    session: AsyncSession,
) -> Sequence[Row[AnalyticsJob, str, datetime | None]]:
    """Return queued and running backfill jobs with their agent's name and latest verdict time."""
    last_judged = (
        select(JobItem.judged_at)
        .where(JobItem.job_id == AnalyticsJob.id, JobItem.done_order.is_not(None))
        .order_by(JobItem.done_order.desc())
        .limit(1)
        .scalar_subquery()
    )
    name = func.coalesce(latest_graph_name(AnalyticsJob.graph_id), AnalyticsJob.graph_id)
    stmt = (
        select(AnalyticsJob, name, last_judged)
        .where(AnalyticsJob.rule_id.is_(None), AnalyticsJob.status.in_(ACTIVE_STATUSES))
        .order_by(AnalyticsJob.created_at)
    )
    return (await session.execute(stmt)).all()
