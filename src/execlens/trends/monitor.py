"""The monitor: check agents' trends and the judging's health, keep alerts, notify on opening."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.config import Settings
from execlens.db.engine import Database
from execlens.trends import repository
from execlens.trends.health import HealthFinding, HealthKey, health_message, health_service
from execlens.trends.notify import AlertMessage, Delivery, Notification, Notifier
from execlens.trends.schemas import AccuracyAlertData, AccuracyTrendsResponse
from execlens.trends.service import AlertAction, dashboard_link, monitor_query, trend_service

log = logging.getLogger("execlens.monitor")


@dataclass
class GraphCheck:
    """One graph's check: its trend, what happened to its alert, and the deliveries."""

    graph_id: str
    name: str
    trend: AccuracyTrendsResponse
    action: AlertAction
    deliveries: list[Delivery] = field(default_factory=list)


@dataclass
class HealthCheck:
    """One health condition's check: what was found, what happened to its alert, deliveries."""

    kind: str
    scope: str
    subject: str
    finding: HealthFinding | None
    action: AlertAction
    deliveries: list[Delivery] = field(default_factory=list)


class Monitor:
    """Check every graph with enough finished runs in the lookback, and the judging's health."""

    def __init__(
        self, database: Database, settings: Settings, *, notifier: Notifier | None = None
    ) -> None:
        self.database = database
        self.settings = settings
        self.notifier = notifier or Notifier.from_settings(settings)

    async def check_once(self, now: datetime | None = None) -> list[GraphCheck]:
        """Check each active graph once and return what was found and done."""
        now = now or datetime.now(UTC)
        since = now - timedelta(days=self.settings.monitor_days_back)
        stmt = repository.select_active_graphs(since, self.settings.monitor_min_executions)
        async with self.database.read() as session:
            graphs = (await session.execute(stmt)).all()
        return [await self._check(g.graph_id, g.name, now) for g in graphs]

    async def _check(self, graph_id: str, name: str, now: datetime) -> GraphCheck:
        settings = self.settings
        query = monitor_query(settings, graph_id)
        async with self.database.read() as session:
            trend = await trend_service.trends(session, self.database.dialect, query, now=now)
        try:
            async with self.database.write() as session:
                decision = await trend_service.record_check(
                    session,
                    query,
                    trend,
                    now=now,
                    cooldown=settings.alert_cooldown,
                    can_notify=bool(self.notifier.channels),
                )
        except IntegrityError:
            # Another monitor opened this graph's alert between our read and our write;
            # the unique index refused a second one, and that monitor notifies.
            return GraphCheck(graph_id, name, trend, "still_open")
        check = GraphCheck(graph_id, name, trend, decision.action)
        if decision.notify and decision.alert is not None and trend.alert is not None:
            message = self._message(name, trend.alert, reminder=decision.action == "renotify")
            check.deliveries = await self._deliver(
                message, decision.alert.id, trend_service.record_delivery
            )
        return check

    async def check_health(self, now: datetime | None = None) -> list[HealthCheck]:
        """Check every judging rule, agent and backfill job's judging once; keep their alerts."""
        now = now or datetime.now(UTC)
        async with self.database.read() as session:
            findings = await health_service.findings(session, self.settings, now)
            keys = set(findings) | set(await health_service.open_keys(session))
        return [await self._check_health(key, findings.get(key), now) for key in sorted(keys)]

    async def _check_health(
        self, key: HealthKey, finding: HealthFinding | None, now: datetime
    ) -> HealthCheck:
        try:
            async with self.database.write() as session:
                decision = await health_service.record(
                    session,
                    key,
                    finding,
                    now=now,
                    cooldown=self.settings.alert_cooldown,
                    can_notify=bool(self.notifier.channels),
                )
                subject = decision.alert.subject if decision.alert is not None else key[1]
        except IntegrityError:
            # Another monitor opened this alert first; the unique index refused a second.
            return HealthCheck(*key, finding.subject if finding else key[1], finding, "still_open")
        check = HealthCheck(*key, subject, finding, decision.action)
        if decision.notify and decision.alert is not None:
            reminder = decision.action == "renotify"
            message = health_message(self.settings, decision.alert, reminder=reminder)
            check.deliveries = await self._deliver(
                message, decision.alert.id, health_service.record_delivery
            )
        return check

    async def _deliver(
        self,
        message: Notification,
        alert_id: str,
        record: Callable[[AsyncSession, str, str | None], Awaitable[None]],
    ) -> list[Delivery]:
        """Send a message to every channel and store which ones failed."""
        deliveries = await self.notifier.send(message)
        failed = [f"{d.channel}: {d.error}" for d in deliveries if not d.ok]
        async with self.database.write() as session:
            await record(session, alert_id, "; ".join(failed) or None)
        return deliveries

    def _message(self, name: str, alert: AccuracyAlertData, *, reminder: bool) -> AlertMessage:
        return AlertMessage(
            graph_id=alert.graph_id,
            graph_name=name,
            user_id=alert.user_id,
            drop_percent=alert.drop_percent,
            three_day_avg=alert.three_day_avg,
            seven_day_avg=alert.seven_day_avg,
            drop_threshold=self.settings.monitor_drop_threshold,
            detected_at=alert.detected_at,
            dashboard_url=dashboard_link(self.settings, alert.graph_id, alert.user_id),
            reminder=reminder,
        )

    async def run(
        self,
        *,
        interval: timedelta,
        once: bool = False,
        on_cycle: Callable[[list[GraphCheck], list[HealthCheck]], None] | None = None,
    ) -> None:
        """Check every ``interval`` until cancelled, or once."""
        while True:
            started = time.monotonic()
            try:
                checks = await self.check_once()
                health = await self.check_health()
            except Exception:
                if once:
                    raise
                # A long-running monitor outlives a database restart: log, try next cycle.
                log.exception("monitor check failed; trying again in %s", interval)
            else:
                if on_cycle is not None:
                    on_cycle(checks, health)
            if once:
                return
            await asyncio.sleep(max(0.0, interval.total_seconds() - (time.monotonic() - started)))


@asynccontextmanager
async def background_monitor(database: Database, settings: Settings) -> AsyncIterator[None]:
    """Run the monitor beside the server while the block runs, if settings enable it."""
    if not settings.monitor_in_serve:
        yield
        return
    monitor = Monitor(database, settings)
    task = asyncio.create_task(monitor.run(interval=settings.monitor_interval))
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
