"""Evaluator health: find rules, agents and jobs whose judging is stuck or failing; keep alerts."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from execlens.config import Settings
from execlens.jobs.models import AnalyticsJob, ItemStatus
from execlens.labels import repository as labels_repository
from execlens.labels.agreement import agreement
from execlens.rules import repository as rules_repository
from execlens.rules.models import JudgingRule
from execlens.rules.service import rule_service
from execlens.trends import repository
from execlens.trends.models import AlertState, HealthAlert, HealthAlertKind
from execlens.trends.notify import HealthMessage
from execlens.trends.schemas import (
    HealthAlertOut,
    HealthAlertPage,
)
from execlens.trends.service import AlertAction, dashboard_link, mark_notified, reminder_due

TITLES: dict[str, str] = {
    "rule_backlog": "Judging backlog",
    "rule_failures": "Judging rule failing",
    "judge_failures": "Judge failures",
    "job_stalled": "Job stalled",
    "label_agreement": "Judge disagrees with labels",
}
RULE_FAILURE_WINDOW = timedelta(hours=1)
JUDGE_FAILURE_WINDOW = timedelta(hours=24)
LABEL_WINDOW = timedelta(days=30)
# Pass is a score (and a label) at or above this, as in `execlens agreement`'s default.
LABEL_PASS = 0.5
LABELS_SCOPE = "labels"
HealthKey = tuple[str, str]


@dataclass(frozen=True)
class HealthFinding:
    """A condition a check found: its kind, what it is about, and the numbers behind it."""

    kind: HealthAlertKind
    scope: str
    subject: str
    value: float
    threshold: float
    numbers: dict[str, float]

    @property
    def key(self) -> HealthKey:
        return (self.kind, self.scope)


@dataclass
class HealthDecision:
    """What a check did to the stored alert of one kind and scope."""

    action: AlertAction
    alert: HealthAlert | None
    notify: bool = False


def describe(kind: str, numbers: dict[str, float]) -> str:
    """Return one sentence saying what a health alert found."""
    n = numbers
    if kind == "rule_backlog":
        return (
            f"{n['waiting']:g} picked runs have waited more than {n['threshold_minutes']:g} min "
            f"for a verdict; the oldest arrived {n['oldest_minutes']:.0f} min ago "
            f"({n['backlog']:g} waiting in all)."
        )
    if kind == "rule_failures":
        return (
            f"{n['failed']:g} of its {n['finished']:g} verdicts in the last hour failed "
            f"(alert at {n['min_failed']:g} failures and {n['min_share']:.0%})."
        )
    if kind == "judge_failures":
        return (
            f"{n['failed']:g} judgments of this agent's runs failed in the last 24 h "
            f"(alert above {n['threshold']:g})."
        )
    if kind == "label_agreement":
        return (
            f"The judge's scores agree with {n['accuracy']:.0%} of the {n['labelled']:g} runs "
            f"labelled in the last 30 days (pass at {LABEL_PASS:g}; alert below "
            f"{n['threshold']:.0%} with at least {n['min_labels']:g} labelled runs)."
        )
    return (
        f"The job has judged nothing for {n['idle_minutes']:.0f} min (alert after "
        f"{n['threshold_minutes']:g} min); {n['waiting']:g} runs wait."
    )


def health_link(settings: Settings, kind: str, scope: str) -> str:
    """Return the dashboard page where the cause of a health alert is seen."""
    if kind.startswith("rule_"):
        return f"{settings.dashboard_url}/rules"
    if kind == "job_stalled":
        return f"{settings.dashboard_url}/jobs/{scope}"
    if kind == "label_agreement":
        return f"{settings.dashboard_url}/executions"
    return dashboard_link(settings, scope)


def _minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 1)


class HealthService:
    """Check the evaluators' health and keep alerts on it."""

    async def findings(
        self, session: AsyncSession, settings: Settings, now: datetime
    ) -> dict[HealthKey, HealthFinding]:
        """Return every health condition that holds at ``now``, by kind and scope."""
        found: list[HealthFinding | None] = []
        for rule in await rules_repository.list_rules(session):
            found.append(await self._rule_backlog(session, settings, rule, now))
            found.append(await self._rule_failures(session, settings, rule, now))
        found.extend(await self._judge_failures(session, settings, now))
        found.extend(await self._stalled_jobs(session, settings, now))
        found.append(await self._label_agreement(session, settings, now))
        return {f.key: f for f in found if f is not None}

    async def _rule_backlog(
        self, session: AsyncSession, settings: Settings, rule: JudgingRule, now: datetime
    ) -> HealthFinding | None:
        """Find picked runs waiting too long under an active rule (not paused, within budget)."""
        if rule.paused:
            return None
        if await rule_service.budget_spent(session, rule, now):
            return None
        limit = timedelta(minutes=settings.monitor_backlog_minutes)
        waiting, oldest = await rules_repository.overdue(session, rule.id, now - limit)
        if not waiting or oldest is None:
            return None
        numbers = {
            "waiting": float(waiting),
            "backlog": float(await rules_repository.backlog(session, rule.id)),
            "oldest_minutes": _minutes(now - oldest),
            "threshold_minutes": settings.monitor_backlog_minutes,
        }
        return HealthFinding(
            "rule_backlog",
            rule.id,
            rule.name,
            numbers["oldest_minutes"],
            settings.monitor_backlog_minutes,
            numbers,
        )

    async def _rule_failures(
        self, session: AsyncSession, settings: Settings, rule: JudgingRule, now: datetime
    ) -> HealthFinding | None:
        """Find a rule whose verdicts in the last hour failed often enough, and mostly."""
        rows = await rules_repository.finished_since(session, rule.id, now - RULE_FAILURE_WINDOW)
        failed = sum(1 for row in rows if str(row[0]) == ItemStatus.FAILED)
        minimum, share = settings.monitor_rule_failures_min, settings.monitor_rule_failures_share
        if failed < minimum or failed < share * len(rows):
            return None
        numbers = {
            "failed": float(failed),
            "finished": float(len(rows)),
            "min_failed": float(minimum),
            "min_share": share,
        }
        return HealthFinding("rule_failures", rule.id, rule.name, failed, minimum, numbers)

    async def _judge_failures(
        self, session: AsyncSession, settings: Settings, now: datetime
    ) -> list[HealthFinding]:
        """Find agents with more failed judgments in the last 24 h than the threshold."""
        rows = await repository.judge_failures_by_graph(session, now - JUDGE_FAILURE_WINDOW)
        threshold = settings.monitor_judge_failures
        return [
            HealthFinding(
                "judge_failures",
                graph_id,
                name,
                failed,
                threshold,
                {"failed": float(failed), "threshold": float(threshold)},
            )
            for graph_id, name, failed in rows
            if failed > threshold
        ]

    async def _label_agreement(
        self, session: AsyncSession, settings: Settings, now: datetime
    ) -> HealthFinding | None:
        """Find the current scores agreeing too little with the last 30 days' labels."""
        pairs = await labels_repository.scored_labels_since(session, now - LABEL_WINDOW)
        minimum, threshold = settings.monitor_agreement_min_labels, settings.monitor_agreement_min
        if len(pairs) < minimum:
            return None
        measured = agreement([s for s, _ in pairs], [label for _, label in pairs], LABEL_PASS)
        accuracy = measured.accuracy or 0.0
        if accuracy >= threshold:
            return None
        numbers = {
            "accuracy": round(accuracy, 4),
            "labelled": float(measured.n),
            "threshold": threshold,
            "min_labels": float(minimum),
        }
        subject = "scores against labels"
        return HealthFinding("label_agreement", LABELS_SCOPE, subject, accuracy, threshold, numbers)

    async def _stalled_jobs(
        self, session: AsyncSession, settings: Settings, now: datetime
    ) -> list[HealthFinding]:
        """Find queued or running backfill jobs that judged nothing for the backlog threshold."""
        limit = timedelta(minutes=settings.monitor_backlog_minutes)
        found = []
        for job, name, last_judged in await repository.active_backfill_jobs(session):
            idle = now - _last_progress(job, last_judged)
            waiting = job.total - job.done_count
            if idle <= limit or (job.selection_done and waiting <= 0):
                continue
            numbers = {
                "idle_minutes": _minutes(idle),
                "waiting": float(waiting),
                "threshold_minutes": settings.monitor_backlog_minutes,
            }
            subject = f"job {job.id[:8]} of {name}"
            found.append(
                HealthFinding(
                    "job_stalled",
                    job.id,
                    subject,
                    numbers["idle_minutes"],
                    settings.monitor_backlog_minutes,
                    numbers,
                )
            )
        return found

    async def open_keys(self, session: AsyncSession) -> list[HealthKey]:
        """Return the kind and scope of every open health alert."""
        return await repository.open_health_keys(session)

    async def record(
        self,
        session: AsyncSession,
        key: HealthKey,
        finding: HealthFinding | None,
        *,
        now: datetime,
        cooldown: timedelta,
        can_notify: bool = True,
    ) -> HealthDecision:
        """Open, refresh or resolve the stored health alert of one kind and scope.

        As for accuracy drops: notify once when it opens, again only after ``cooldown``
        (zero: never), and store the decision with it so a second monitor does not send.
        """
        alert = await repository.open_health_alert(session, *key)
        if alert is None:
            if finding is None:
                return HealthDecision("none", None)
            alert = HealthAlert(
                id=str(uuid.uuid4()),
                kind=finding.kind,
                scope=finding.scope,
                state="open",
                detected_at=now,
                notifications=0,
            )
            _refresh(alert, finding, now)
            if can_notify:
                mark_notified(alert, now)
            session.add(alert)
            await session.flush()
            return HealthDecision("opened", alert, notify=can_notify)
        alert.last_checked_at = now
        if finding is None:
            alert.state = "resolved"
            alert.resolved_at = now
            return HealthDecision("resolved", alert)
        _refresh(alert, finding, now)
        if reminder_due(alert, now, cooldown, can_notify):
            return HealthDecision("renotify", alert, notify=True)
        return HealthDecision("still_open", alert)

    async def record_delivery(
        self, session: AsyncSession, alert_id: str, error: str | None
    ) -> None:
        """Store which channels the latest notification of an alert failed on, if any."""
        alert = await session.get(HealthAlert, alert_id)
        if alert is not None:
            alert.delivery_error = error

    async def list_alerts(
        self,
        session: AsyncSession,
        settings: Settings,
        *,
        state: AlertState | None = None,
        kind: HealthAlertKind | None = None,
        limit: int = 100,
    ) -> HealthAlertPage:
        """Return stored health alerts newest first."""
        stmt = repository.select_health_alerts(state=state, kind=kind).limit(limit)
        alerts = (await session.scalars(stmt)).all()
        return HealthAlertPage(items=[health_alert_out(settings, alert) for alert in alerts])


def health_alert_out(settings: Settings, alert: HealthAlert) -> HealthAlertOut:
    """Return a stored health alert as sent on the wire."""
    return HealthAlertOut(
        id=alert.id,
        kind=alert.kind,
        scope=alert.scope,
        subject=alert.subject,
        state=alert.state,
        message=describe(alert.kind, alert.numbers),
        value=alert.value,
        threshold=alert.threshold,
        numbers=alert.numbers,
        detected_at=alert.detected_at,
        last_checked_at=alert.last_checked_at,
        resolved_at=alert.resolved_at,
        notified_at=alert.notified_at,
        notifications=alert.notifications,
        delivery_error=alert.delivery_error,
        dashboard_url=health_link(settings, alert.kind, alert.scope),
    )


def health_message(settings: Settings, alert: HealthAlert, *, reminder: bool) -> HealthMessage:
    """Return the notification of a health alert."""
    return HealthMessage(
        kind=alert.kind,
        scope=alert.scope,
        subject=alert.subject,
        title=TITLES[alert.kind],
        details=describe(alert.kind, alert.numbers),
        value=alert.value,
        threshold=alert.threshold,
        numbers=dict(alert.numbers),
        detected_at=alert.detected_at,
        dashboard_url=health_link(settings, alert.kind, alert.scope),
        reminder=reminder,
    )


def _last_progress(job: AnalyticsJob, last_judged: datetime | None) -> datetime:
    """Return when the job last moved: its newest verdict, its latest start, or its creation."""
    return max(t for t in (job.created_at, job.run_started_at, last_judged) if t is not None)


def _refresh(alert: HealthAlert, finding: HealthFinding, now: datetime) -> None:
    alert.subject = finding.subject[:500]
    alert.value = finding.value
    alert.threshold = finding.threshold
    alert.numbers = finding.numbers
    alert.last_checked_at = now


health_service = HealthService()
