"""Accuracy trends of a graph and the alerts kept on them: the logic behind API, CLI, monitor."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal, Protocol
from urllib.parse import urlencode

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.config import Settings
from execlens.db.engine import Dialect
from execlens.errors import UserError, field_path
from execlens.trends import repository
from execlens.trends.models import ALL_USERS, AccuracyAlert, AlertState
from execlens.trends.schemas import (
    AccuracyAlertData,
    AccuracyLatestData,
    AccuracyTrendsResponse,
    AgentTrendList,
    AgentTrendSummary,
    AlertOut,
    AlertPage,
    TrendQuery,
)

# Compare drops rounded to this many decimals, so a drop of exactly the threshold alerts
# whatever the last bit of the floating-point division says.
_DROP_DECIMALS = 9
# A 3-day average within this many % of the 7-day one counts as flat in the overview.
_FLAT_PERCENT = 2.0
AlertAction = Literal["opened", "renotify", "still_open", "resolved", "none"]


def trend_query(**values: Any) -> TrendQuery:
    """Return a validated TrendQuery, or raise UserError naming the bad field."""
    try:
        return TrendQuery(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise UserError(f"{field_path(error['loc'])}: {error['msg']}") from None


def window_start(query: TrendQuery, now: datetime) -> datetime:
    """Return the first instant a trend covers."""
    if query.window == "rows":
        # Upstream's cut-off: exactly days_back days before now.
        return now - timedelta(days=query.days_back)
    first_day = now.astimezone(UTC).date() - timedelta(days=query.days_back - 1)
    return datetime.combine(first_day, time(), tzinfo=UTC)


def drop_percent(three_day_avg: float | None, seven_day_avg: float | None) -> float | None:
    """Return how far the 3-day average is below the 7-day one, in percent, or None."""
    if three_day_avg is None or seven_day_avg is None or seven_day_avg <= 0:
        return None
    return (seven_day_avg - three_day_avg) / seven_day_avg * 100


def _point(row: Any) -> AccuracyLatestData:
    return AccuracyLatestData(
        date=datetime.combine(
            repository.EPOCH + timedelta(days=row.day_number), time(), tzinfo=UTC
        ),
        daily_score=row.daily_score,
        three_day_avg=row.three_day_avg,
        seven_day_avg=row.seven_day_avg,
        fourteen_day_avg=row.fourteen_day_avg,
        executions=row.executions,
        scored=row.scored,
        coverage=row.scored / row.executions if row.executions else None,
        min_samples=row.min_samples or 0,
        drop_percent=drop_percent(row.three_day_avg, row.seven_day_avg),
    )


def dashboard_link(settings: Settings, graph_id: str, user_id: str | None = None) -> str:
    """Return the dashboard page of a graph's trend."""
    params = {"graph_id": graph_id} | ({"user_id": user_id} if user_id else {})
    return f"{settings.dashboard_url}/trends?{urlencode(params)}"


def monitor_query(
    settings: Settings, graph_id: str, *, include_historical: bool = False
) -> TrendQuery:
    """Return the query the monitor checks a graph with."""
    return trend_query(
        graph_id=graph_id,
        days_back=settings.monitor_days_back,
        drop_threshold=settings.monitor_drop_threshold,
        window=settings.monitor_window,
        min_executions=settings.monitor_min_scored,
        include_historical=include_historical,
    )


@dataclass
class AgentTrend:
    """One agent's trend, with its name."""

    graph_id: str
    name: str
    trend: AccuracyTrendsResponse


@dataclass
class AlertDecision:
    """What a monitor check did to the stored alert of one graph and user scope."""

    action: AlertAction
    alert: AccuracyAlert | None
    notify: bool = False


class TrendService:
    """Compute trends and keep alerts on them."""

    async def trends(
        self,
        session: AsyncSession,
        dialect: Dialect,
        query: TrendQuery,
        *,
        now: datetime | None = None,
    ) -> AccuracyTrendsResponse:
        """Return the latest day's scores and averages, the alert if any, and optionally history."""
        now = now or datetime.now(UTC)
        stmt = repository.select_daily_trend(
            dialect,
            window=query.window,
            newest_only=not query.include_historical,
            by_user=query.user_id is not None,
        )
        since = window_start(query, now)
        params = repository.daily_trend_params(query.graph_id, since, query.user_id)
        # One row per day, at most 365: the executions themselves never leave the database.
        points = [_point(row) for row in (await session.execute(stmt, params)).all()]
        response = AccuracyTrendsResponse(
            latest_data=points[0] if points else _empty_point(now),
            alert=None,
            historical_data=points if query.include_historical else None,
            window=query.window,
            min_executions=query.min_executions,
        )
        latest = response.latest_data
        drop = latest.drop_percent
        if drop is None or round(drop, _DROP_DECIMALS) < query.drop_threshold:
            return response
        if latest.min_samples < query.min_executions:
            response.alert_suppressed = (
                f"the 3-day window holds {latest.min_samples} scored executions, "
                f"fewer than min_executions={query.min_executions}"
            )
            return response
        assert latest.three_day_avg is not None and latest.seven_day_avg is not None
        response.alert = AccuracyAlertData(
            graph_id=query.graph_id,
            user_id=query.user_id,
            drop_percent=drop,
            three_day_avg=latest.three_day_avg,
            seven_day_avg=latest.seven_day_avg,
            detected_at=now,
        )
        return response

    async def graph_name(self, session: AsyncSession, graph_id: str) -> str | None:
        """Return the newest stored name of a graph, or None."""
        return await repository.graph_name(session, graph_id)

    async def agent_trends(
        self,
        session: AsyncSession,
        dialect: Dialect,
        settings: Settings,
        *,
        now: datetime | None = None,
    ) -> list[AgentTrend]:
        """Return the trend of every agent with finished runs, judged as the monitor would."""
        graphs = (await session.execute(repository.select_active_graphs(None))).all()
        agents = []
        for graph in graphs:
            query = monitor_query(settings, graph.graph_id, include_historical=True)
            trend = await self.trends(session, dialect, query, now=now)
            agents.append(AgentTrend(graph.graph_id, graph.name, trend))
        return agents

    async def agent_overview(
        self, session: AsyncSession, dialect: Dialect, settings: Settings
    ) -> AgentTrendList:
        """Return every agent's latest averages, direction and alert, as the monitor sees them."""
        agents = await self.agent_trends(session, dialect, settings)
        return AgentTrendList(
            items=[_summary(agent) for agent in agents],
            days_back=settings.monitor_days_back,
            drop_threshold=settings.monitor_drop_threshold,
            window=settings.monitor_window,
        )

    async def record_check(
        self,
        session: AsyncSession,
        query: TrendQuery,
        trend: AccuracyTrendsResponse,
        *,
        now: datetime,
        cooldown: timedelta,
        can_notify: bool = True,
    ) -> AlertDecision:
        """Open, refresh or resolve the stored alert of a graph after a check.

        A drop notifies once when it opens. While it stays open it notifies again only
        after ``cooldown`` (zero: never). The decision to notify is stored with it, so a
        monitor checking at the same time does not send the same message.
        """
        scope = query.user_id or ALL_USERS
        alert = await repository.open_alert(session, query.graph_id, scope)
        current = trend.alert
        if alert is None:
            if current is None:
                return AlertDecision("none", None)
            alert = AccuracyAlert(
                id=str(uuid.uuid4()),
                graph_id=query.graph_id,
                user_scope=scope,
                state="open",
                window=query.window,
                detected_at=now,
                notifications=0,
            )
            _refresh(alert, current, now)
            if can_notify:
                mark_notified(alert, now)
            session.add(alert)
            await session.flush()
            return AlertDecision("opened", alert, notify=can_notify)
        if current is None:
            alert.state = "resolved"
            alert.resolved_at = now
            alert.last_checked_at = now
            return AlertDecision("resolved", alert)
        _refresh(alert, current, now)
        if reminder_due(alert, now, cooldown, can_notify):
            return AlertDecision("renotify", alert, notify=True)
        return AlertDecision("still_open", alert)

    async def record_delivery(
        self, session: AsyncSession, alert_id: str, error: str | None
    ) -> None:
        """Store which channels the latest notification of an alert failed on, if any."""
        alert = await session.get(AccuracyAlert, alert_id)
        if alert is not None:
            alert.delivery_error = error

    async def list_alerts(
        self,
        session: AsyncSession,
        settings: Settings,
        *,
        state: AlertState | None = None,
        graph_id: str | None = None,
        limit: int = 100,
    ) -> AlertPage:
        """Return stored alerts newest first."""
        stmt = repository.select_alerts_with_names(state=state, graph_id=graph_id).limit(limit)
        rows = (await session.execute(stmt)).all()
        return AlertPage(items=[alert_out(settings, alert, name) for alert, name in rows])


def alert_out(settings: Settings, alert: AccuracyAlert, name: str | None) -> AlertOut:
    """Return a stored alert as sent on the wire."""
    user_id = alert.user_scope or None
    return AlertOut(
        id=alert.id,
        graph_id=alert.graph_id,
        graph_name=name,
        user_id=user_id,
        state=alert.state,
        drop_percent=alert.drop_percent,
        three_day_avg=alert.three_day_avg,
        seven_day_avg=alert.seven_day_avg,
        window=alert.window,
        detected_at=alert.detected_at,
        last_checked_at=alert.last_checked_at,
        resolved_at=alert.resolved_at,
        notified_at=alert.notified_at,
        notifications=alert.notifications,
        delivery_error=alert.delivery_error,
        dashboard_url=dashboard_link(settings, alert.graph_id, user_id),
    )


def _direction(drop: float | None) -> Literal["up", "down", "flat"] | None:
    if drop is None:
        return None
    if abs(drop) < _FLAT_PERCENT:
        return "flat"
    return "down" if drop > 0 else "up"


def _summary(agent: AgentTrend) -> AgentTrendSummary:
    history = agent.trend.historical_data or []
    latest = agent.trend.latest_data
    return AgentTrendSummary(
        graph_id=agent.graph_id,
        name=agent.name,
        date=latest.date if history else None,
        daily_score=latest.daily_score,
        three_day_avg=latest.three_day_avg,
        seven_day_avg=latest.seven_day_avg,
        drop_percent=latest.drop_percent,
        direction=_direction(latest.drop_percent),
        executions=sum(point.executions for point in history),
        scored=sum(point.scored for point in history),
        alert=agent.trend.alert,
    )


def _empty_point(now: datetime) -> AccuracyLatestData:
    return AccuracyLatestData(
        date=now, daily_score=None, three_day_avg=None, seven_day_avg=None, fourteen_day_avg=None
    )


class Notifiable(Protocol):
    """An open alert of any kind: when it was last notified, and how often."""

    notified_at: datetime | None
    notifications: int


def mark_notified(alert: Notifiable, now: datetime) -> None:
    """Record that ``alert`` is being notified now (in the same transaction as the decision)."""
    alert.notified_at = now
    alert.notifications += 1


def reminder_due(alert: Notifiable, now: datetime, cooldown: timedelta, can_notify: bool) -> bool:
    """Tell whether an alert still open is due a reminder; if so, mark it notified now."""
    sent = alert.notified_at
    due = can_notify and (sent is None or (bool(cooldown) and now - sent >= cooldown))
    if due:
        mark_notified(alert, now)
    return due


def _refresh(alert: AccuracyAlert, current: AccuracyAlertData, now: datetime) -> None:
    alert.drop_percent = current.drop_percent
    alert.three_day_avg = current.three_day_avg
    alert.seven_day_avg = current.seven_day_avg
    alert.last_checked_at = now


trend_service = TrendService()
