"""Queries behind accuracy trends and the alerts the monitor keeps."""

from datetime import datetime

from sqlalchemy import Select, func, literal, over, select
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.db.dialect import epoch_day, utc_day
from execlens.db.engine import Dialect
from execlens.executions.models import FINISHED_CONDITION, FINISHED_STATUSES, Execution
from execlens.executions.repository import latest_graph_name
from execlens.trends.models import AccuracyAlert
from execlens.trends.schemas import AlertState, TrendWindow

# Upstream leaves out days with fewer finished executions; `window=rows` does the same.
UPSTREAM_MIN_DAY_EXECUTIONS = 3
# The averages' window sizes in days (calendar) or in days with data (rows).
WINDOWS = {"three_day_avg": 3, "seven_day_avg": 7, "fourteen_day_avg": 14}


def select_daily_trend(
    dialect: Dialect,
    *,
    graph_id: str,
    since: datetime,
    user_id: str | None = None,
    window: TrendWindow = "calendar",
    newest_only: bool = False,
) -> Select:
    """Return one row per UTC day with data, newest first: counts, score and moving averages.

    One statement. The inner part reads only the partial index of finished runs on
    (graph_id, created_at) and groups by day; the outer part runs the window functions
    over those few day rows.
    """
    day = utc_day(dialect, Execution.created_at)
    daily = (
        select(
            day.label("day"),
            func.count().label("executions"),
            func.count(Execution.correctness_score).label("scored"),
            (func.avg(Execution.correctness_score) * 100).label("daily_score"),
        )
        .where(Execution.graph_id == graph_id, Execution.created_at >= since, FINISHED_CONDITION)
        .group_by(day)
    )
    if user_id is not None:
        daily = daily.where(Execution.user_id == user_id)
    if window == "rows":
        daily = daily.having(func.count() >= UPSTREAM_MIN_DAY_EXECUTIONS)
    daily = daily.subquery("daily")
    day_number = epoch_day(dialect, daily.c.day)

    def frame(size: int) -> dict:
        bounds = (-(size - 1), 0)
        return {"order_by": day_number, "rows" if window == "rows" else "range_": bounds}

    averages = [
        over(func.avg(daily.c.daily_score), **frame(size)).label(name)
        for name, size in WINDOWS.items()
    ]
    min_samples = over(func.sum(daily.c.scored), **frame(WINDOWS["three_day_avg"]))
    stmt = select(
        day_number.label("day_number"),
        daily.c.executions,
        daily.c.scored,
        daily.c.daily_score,
        *averages,
        min_samples.label("min_samples"),
    ).order_by(day_number.desc())
    return stmt.limit(1) if newest_only else stmt


def select_active_graphs(since: datetime | None, min_executions: int = 1) -> Select:
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
) -> Select[tuple[AccuracyAlert]]:
    """Return alerts newest first, optionally only one state or one graph."""
    stmt = select(AccuracyAlert)
    if state is not None:
        stmt = stmt.where(AccuracyAlert.state == state)
    if graph_id is not None:
        stmt = stmt.where(AccuracyAlert.graph_id == graph_id)
    return stmt.order_by(AccuracyAlert.detected_at.desc(), AccuracyAlert.id.desc())


def select_alerts_with_names(
    *, state: AlertState | None = None, graph_id: str | None = None
) -> Select[tuple[AccuracyAlert, str | None]]:
    """Return ``select_alerts`` rows with each graph's newest name (None when not stored)."""
    name = latest_graph_name(AccuracyAlert.graph_id)
    return select_alerts(state=state, graph_id=graph_id).add_columns(name.label("name"))


async def open_alert(session: AsyncSession, graph_id: str, user_scope: str) -> AccuracyAlert | None:
    """Return the open alert of a graph and user scope, or None."""
    stmt = select_alerts(state="open", graph_id=graph_id).where(
        AccuracyAlert.user_scope == user_scope
    )
    return await session.scalar(stmt)
