"""The monitor: check each active graph's trend, keep its alert, notify when a drop opens."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from execlens.config import Settings
from execlens.db.engine import Database
from execlens.trends import repository
from execlens.trends.notify import AlertMessage, Delivery, Notifier
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


class Monitor:
    """Check every graph with enough finished runs in the lookback."""

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
            check.deliveries = await self.notifier.send(message)
            failed = [f"{d.channel}: {d.error}" for d in check.deliveries if not d.ok]
            async with self.database.write() as session:
                error = "; ".join(failed) or None
                await trend_service.record_delivery(session, decision.alert.id, error)
        return check

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
        on_cycle: Callable[[list[GraphCheck]], None] | None = None,
    ) -> None:
        """Check every ``interval`` until cancelled, or once."""
        while True:
            started = time.monotonic()
            try:
                checks = await self.check_once()
            except Exception:
                if once:
                    raise
                # A long-running monitor outlives a database restart: log, try next cycle.
                log.exception("monitor check failed; trying again in %s", interval)
            else:
                if on_cycle is not None:
                    on_cycle(checks)
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
