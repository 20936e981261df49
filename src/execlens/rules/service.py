"""Judging rules: pick new finished runs as they arrive and hand them to durable jobs."""

import hashlib
import math
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.audit.service import audit_service
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.errors import NotFoundError, UserError
from execlens.jobs import lifecycle
from execlens.jobs.mappers import new_job
from execlens.jobs.models import AnalyticsJob, ItemStatus, JobItem, JobStatus
from execlens.jobs.schemas import JobCreate
from execlens.judge.prompts import DEFAULT_SYSTEM_PROMPT, DEFAULT_USER_PROMPT, check_prompts
from execlens.judge.providers import resolve_model
from execlens.rules import repository
from execlens.rules.models import JudgingRule
from execlens.rules.schemas import RuleCreate, RuleHealth, RuleOut, RuleUpdate

# Each pass reads arrivals again this far before the newest it read: a run committed late
# by a slow transaction is still found. Runs already seen are skipped (rule_matches).
LOOKBACK = timedelta(minutes=2)
BATCH = 500
# The reason a job's runner gives when it pauses at the cost cap.
COST_CAP_REASON = "cost cap reached"
PAUSED_REASON = "its judging rule is paused; unpausing the rule resumes it"


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_sampled(execution_id: str, rate: float) -> bool:
    """Tell whether a run is in a rule's sample: fixed per run id, so a re-read never re-rolls."""
    if rate >= 1:
        return True
    digest = hashlib.sha256(execution_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def _day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _cost_paused(job: AnalyticsJob | None) -> bool:
    """Tell whether a job is paused at its cost cap (a rule's daily budget)."""
    if job is None or job.status != JobStatus.PAUSED:
        return False
    return (job.reason or "").startswith(COST_CAP_REASON)


def _resume_within_budget(job: AnalyticsJob | None, now: datetime, left: float | None) -> None:
    """Resume a job paused at its budget once ``left`` pays for one more verdict."""
    if job is None or left is None or not _cost_paused(job):
        return
    per_verdict = job.cost_usd / job.llm_calls if job.llm_calls else 0.0
    if left > per_verdict:
        job.max_cost_usd = job.cost_usd + left
        lifecycle.requeue(job, now)


def _percentile(values: Sequence[float], share: float) -> float | None:
    """Return the nearest-rank percentile of ``values``, or None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


class RuleService:
    """Create, change and run judging rules."""

    async def create(
        self,
        session: AsyncSession,
        settings: Settings,
        params: RuleCreate,
        *,
        actor: str,
        acting_as: str | None = None,
    ) -> JudgingRule:
        """Store a rule; it judges runs that arrive from now on."""
        model = self._check_judge(settings, params.model_name, params.daily_budget_usd)
        check_prompts(
            params.system_prompt or DEFAULT_SYSTEM_PROMPT, params.user_prompt or DEFAULT_USER_PROMPT
        )
        now = utcnow()
        rule = JudgingRule(
            id=str(uuid.uuid4()),
            name=params.name or f"{params.graph_id or 'every agent'} at {params.sample_rate:.0%}",
            graph_id=params.graph_id,
            statuses=sorted(set(params.statuses)),
            sample_rate=params.sample_rate,
            model=model,
            system_prompt=params.system_prompt,
            user_prompt=params.user_prompt,
            daily_budget_usd=params.daily_budget_usd,
            paused=params.paused,
            created_by=actor,
            created_at=now,
            updated_at=now,
            cursor_arrived_at=now,
        )
        session.add(rule)
        details = params.model_dump(mode="json", exclude={"system_prompt", "user_prompt"})
        self._audit(session, rule, "created", actor, acting_as, details)
        await session.flush()
        return rule

    def _check_judge(
        self,
        settings: Settings,
        model_name: str | None,
        budget: float | None,
    ) -> str:
        entry = resolve_model(settings, model_name)
        if budget is not None and entry.input_price_per_mtok is None:
            raise UserError(
                f"daily_budget_usd: the price of model {entry.id!r} is unknown, so a budget "
                "cannot be enforced; drop daily_budget_usd or pick a model with a known price",
                field="daily_budget_usd",
            )
        return entry.id

    async def get(self, session: AsyncSession, rule_id: str) -> JudgingRule:
        """Return a rule, or raise NotFoundError."""
        rule = await repository.get_rule(session, rule_id)
        if rule is None:
            raise NotFoundError(f"no judging rule with id {rule_id!r}")
        return rule

    async def list_rules(self, session: AsyncSession) -> Sequence[JudgingRule]:
        """Return every rule, oldest first."""
        return await repository.list_rules(session)

    async def update(
        self,
        session: AsyncSession,
        settings: Settings,
        rule_id: str,
        changes: RuleUpdate,
        *,
        actor: str,
        acting_as: str | None = None,
    ) -> JudgingRule:
        """Change a rule's fields; pausing it also pauses its open job."""
        rule = await self.get(session, rule_id)
        fields = changes.model_dump(exclude_unset=True)
        if "model_name" in fields or "daily_budget_usd" in fields:
            budget = fields.get("daily_budget_usd", rule.daily_budget_usd)
            model = fields.pop("model_name", None) or rule.model
            rule.model = self._check_judge(settings, model, budget)
        for name, value in fields.items():
            setattr(rule, name, sorted(set(value)) if name == "statuses" else value)
        rule.updated_at = utcnow()
        if rule.paused:
            await self._stop_jobs(session, rule, PAUSED_REASON)
        else:
            for job in await repository.jobs_stopped_for(session, rule.id, PAUSED_REASON):
                lifecycle.requeue(job, rule.updated_at)
            if "daily_budget_usd" in fields:
                await self._apply_budget(session, rule, rule.updated_at)
        self._audit(session, rule, "updated", actor, acting_as, changes.model_dump(mode="json"))
        return rule

    async def delete(
        self, session: AsyncSession, rule_id: str, *, actor: str, acting_as: str | None = None
    ) -> None:
        """Delete a rule and cancel its open job; verdicts already given stay."""
        rule = await self.get(session, rule_id)
        await self._stop_jobs(session, rule, "its judging rule was deleted")
        self._audit(session, rule, "deleted", actor, acting_as)
        await session.delete(rule)

    async def _stop_jobs(self, session: AsyncSession, rule: JudgingRule, reason: str) -> None:
        for job in await repository.open_jobs(session, rule.id):
            lifecycle.move(job, JobStatus.CANCELLED, now=utcnow(), reason=reason)

    def _audit(
        self,
        session: AsyncSession,
        rule: JudgingRule,
        what: str,
        actor: str,
        acting_as: str | None,
        details: dict[str, object] | None = None,
    ) -> None:
        audit_service.record(
            session,
            actor=actor,
            acting_as=acting_as,
            action=f"judging_rule.{what}",
            target_type="judging_rule",
            target_id=rule.id,
            details=details,
        )

    async def health(
        self, session: AsyncSession, rule: JudgingRule, now: datetime | None = None
    ) -> RuleHealth:
        """Return the rule's spend today, backlog, and arrival-to-verdict lag over an hour."""
        now = now or utcnow()
        spent = await repository.spent_since(session, rule.id, _day_start(now))
        finished = await repository.finished_since(session, rule.id, now - timedelta(hours=1))
        lags = [
            (judged - arrived).total_seconds()
            for status, arrived, judged in finished
            if status == ItemStatus.SUCCESS and arrived is not None and judged is not None
        ]
        job = await repository.open_job(session, rule.id)
        budget = rule.daily_budget_usd
        return RuleHealth(
            spent_today_usd=round(spent, 6),
            budget_exhausted=budget is not None and (spent >= budget or _cost_paused(job)),
            backlog=await repository.backlog(session, rule.id),
            judged_last_hour=len(lags),
            failed_last_hour=sum(1 for row in finished if row[0] == ItemStatus.FAILED),
            lag_p50_seconds=_percentile(lags, 0.5),
            lag_p95_seconds=_percentile(lags, 0.95),
            open_job_id=job.id if job is not None else None,
        )

    async def out(self, session: AsyncSession, rule: JudgingRule) -> RuleOut:
        """Return a rule as the API shows it, with its health."""
        return RuleOut(
            id=rule.id,
            name=rule.name,
            graph_id=rule.graph_id,
            statuses=rule.statuses,
            sample_rate=rule.sample_rate,
            model=rule.model,
            custom_prompts=bool(rule.system_prompt or rule.user_prompt),
            daily_budget_usd=rule.daily_budget_usd,
            paused=rule.paused,
            created_by=rule.created_by,
            created_at=rule.created_at,
            updated_at=rule.updated_at,
            health=await self.health(session, rule),
        )

    async def run_all(
        self, database: Database, settings: Settings, wake: Callable[[], None] | None = None
    ) -> int:
        """Hand every active rule's new matching runs to its job; return how many were picked."""
        async with database.read() as session:
            rules = [r.id for r in await repository.list_rules(session) if not r.paused]
        picked = 0
        for rule_id in rules:
            picked += await self.run_rule(database, settings, rule_id)
        if picked and wake is not None:
            wake()
        return picked

    async def run_rule(self, database: Database, settings: Settings, rule_id: str) -> int:
        """Read a rule's new arrivals in batches; each batch commits its matches and items."""
        picked = 0
        while True:
            async with database.write() as session:
                await repository.lock_picking(session, database.dialect)
                rule = await repository.lock_rule(session, rule_id)
                if rule is None or rule.paused:
                    return picked
                now = utcnow()
                job = await repository.open_job(session, rule.id, lock=True)
                # Runs that arrived before the rule existed are not new to it.
                since = max(rule.created_at, (rule.cursor_arrived_at or rule.created_at) - LOOKBACK)
                rows = await repository.unseen_arrivals(session, rule, since, BATCH)
                # Today's spend is read only when it decides something: a job paused at the
                # budget may resume, or a new job gets the budget left as its cap.
                left = None
                if _cost_paused(job) or (rows and job is None):
                    left = await self._budget_left(session, rule, now)
                    _resume_within_budget(job, now, left)
                if not rows:
                    return picked
                chosen = {run_id for run_id, _ in rows if is_sampled(run_id, rule.sample_rate)}
                # A run another rule took is judged once, by that rule: the same run judged
                # by two rules at once would be paid for twice.
                if chosen:
                    chosen -= await repository.taken_by_other_rules(session, rule.id, chosen)
                await repository.add_matches(
                    session,
                    [
                        {
                            "rule_id": rule.id,
                            "execution_id": i,
                            "sampled": i in chosen,
                            "matched_at": now,
                        }
                        for i, _ in rows
                    ],
                )
                if chosen:
                    job = job or self._new_job(session, settings, rule, now, left)
                    await self._add_items(session, job, sorted(chosen))
                # unseen_arrivals selects by arrived_at >= since: none of them is null.
                newest = max(arrived for _, arrived in rows if arrived is not None)
                rule.cursor_arrived_at = max(newest, rule.cursor_arrived_at or newest)
                picked += len(chosen)
            if len(rows) < BATCH:
                return picked

    async def _budget_left(
        self, session: AsyncSession, rule: JudgingRule, now: datetime
    ) -> float | None:
        """Return what the rule may still spend today (UTC), or None without a budget."""
        if rule.daily_budget_usd is None:
            return None
        return rule.daily_budget_usd - await repository.spent_since(
            session, rule.id, _day_start(now)
        )

    async def budget_spent(self, session: AsyncSession, rule: JudgingRule, now: datetime) -> bool:
        """Tell whether the rule's budget pays for no more verdicts today."""
        left = await self._budget_left(session, rule, now)
        if left is None:
            return False
        return left <= 0 or _cost_paused(await repository.open_job(session, rule.id))

    async def _apply_budget(self, session: AsyncSession, rule: JudgingRule, now: datetime) -> None:
        """Give the open job the changed budget's cap; resume it if the cap had paused it."""
        left = await self._budget_left(session, rule, now)
        job = await repository.open_job(session, rule.id, lock=True)
        if job is None:
            return
        if left is None:
            job.max_cost_usd = None
            if _cost_paused(job):
                lifecycle.requeue(job, now)
            return
        job.max_cost_usd = job.cost_usd + max(0.0, left)
        _resume_within_budget(job, now, left)

    def _new_job(
        self,
        session: AsyncSession,
        settings: Settings,
        rule: JudgingRule,
        now: datetime,
        left: float | None,
    ) -> AnalyticsJob:
        params = JobCreate(
            graph_id=rule.graph_id or "*",
            model_name=rule.model,
            system_prompt=rule.system_prompt,
            user_prompt=rule.user_prompt,
            skip_existing=True,
        )
        job = new_job(settings, params, f"rule:{rule.id}")
        job.rule_id = rule.id
        job.selection_done = True
        if left is not None:
            # The job's cost cap is today's budget left; the next UTC day raises it.
            job.max_cost_usd = max(0.0, left)
            if left <= 0:
                reason = (
                    f"{COST_CAP_REASON}: the rule's daily budget of ${rule.daily_budget_usd:.2f} "
                    "is spent; it resumes at 00:00 UTC"
                )
                lifecycle.pause(job, now, reason)
        session.add(job)
        return job

    async def _add_items(self, session: AsyncSession, job: AnalyticsJob, ids: list[str]) -> None:
        await session.flush()
        rows = [
            {"job_id": job.id, "execution_id": i, "status": ItemStatus.PENDING, "attempts": 0}
            for i in ids
        ]
        await session.execute(insert(JobItem), rows)
        job.total += len(ids)
        job.selected += len(ids)
        job.to_judge += len(ids)
        job.updated_at = utcnow()


rule_service = RuleService()
