"""Queries of judging rules: new arrivals, matches, the rule's jobs and their numbers."""

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import Row, Select, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.db.dialect import RULE_PICKING_LOCK_KEY, hold_lock
from execlens.db.engine import Dialect
from execlens.executions.models import Execution
from execlens.jobs.models import ACTIVE_STATUSES, AnalyticsJob, ItemStatus, JobItem, JobStatus
from execlens.rules.models import JudgingRule, RuleMatch

# A rule's job that still has work: running, waiting, or paused by the daily budget.
OPEN_STATUSES = (*ACTIVE_STATUSES, JobStatus.PAUSED)
WAITING_ITEMS = (ItemStatus.PENDING, ItemStatus.RUNNING)


async def list_rules(session: AsyncSession) -> Sequence[JudgingRule]:
    """Return every rule, oldest first."""
    stmt = select(JudgingRule).order_by(JudgingRule.created_at, JudgingRule.id)
    return (await session.scalars(stmt)).all()


async def get_rule(session: AsyncSession, rule_id: str) -> JudgingRule | None:
    """Return one rule, or None."""
    return await session.get(JudgingRule, rule_id)


async def lock_rule(session: AsyncSession, rule_id: str) -> JudgingRule | None:
    """Return a rule locked for this pass, or None if missing or another process holds it.

    PostgreSQL skips a rule another worker is reading now; SQLite has one writer at a
    time anyway, and the second pass finds the runs already seen.
    """
    stmt = select(JudgingRule).where(JudgingRule.id == rule_id).with_for_update(skip_locked=True)
    return await session.scalar(stmt)


async def jobs_stopped_for(
    session: AsyncSession, rule_id: str, reason: str
) -> Sequence[AnalyticsJob]:
    """Return the rule's jobs cancelled with ``reason``."""
    stmt = select(AnalyticsJob).where(
        AnalyticsJob.rule_id == rule_id,
        AnalyticsJob.status == JobStatus.CANCELLED,
        AnalyticsJob.reason == reason,
    )
    return (await session.scalars(stmt)).all()


async def unseen_arrivals(
    session: AsyncSession, rule: JudgingRule, since: datetime, limit: int
) -> Sequence[Row[str, datetime | None]]:
    """Return finished runs that arrived since ``since``, match ``rule``, and it has not seen."""
    seen = exists().where(RuleMatch.rule_id == rule.id, RuleMatch.execution_id == Execution.id)
    stmt = (
        select(Execution.id, Execution.arrived_at)
        .where(
            Execution.arrived_at >= since,
            Execution.status.in_(rule.statuses),
            ~seen,
        )
        .order_by(Execution.arrived_at, Execution.id)
        .limit(limit)
    )
    if rule.graph_id is not None:
        stmt = stmt.where(Execution.graph_id == rule.graph_id)
    return (await session.execute(stmt)).all()


async def taken_by_other_rules(
    session: AsyncSession, rule_id: str, execution_ids: Collection[str]
) -> set[str]:
    """Return which of these runs another rule has already handed to its job."""
    stmt = select(RuleMatch.execution_id).where(
        RuleMatch.execution_id.in_(execution_ids),
        RuleMatch.rule_id != rule_id,
        RuleMatch.sampled.is_(True),
    )
    return set((await session.scalars(stmt)).all())


async def lock_picking(session: AsyncSession, dialect: Dialect) -> None:
    """Wait until no other process picks runs for rules, then pick until the commit.

    Two rules read by two processes at once would each find a run no rule has taken yet,
    and both take it.
    """
    await hold_lock(session, dialect, RULE_PICKING_LOCK_KEY)


async def add_matches(session: AsyncSession, rows: list[dict[str, object]]) -> None:
    """Record runs a rule has seen."""
    if rows:
        await session.execute(insert(RuleMatch), rows)


async def open_job(
    session: AsyncSession, rule_id: str, *, lock: bool = False
) -> AnalyticsJob | None:
    """Return the rule's newest job that still has work; with ``lock``, its row locked."""
    stmt = (
        select(AnalyticsJob)
        .where(AnalyticsJob.rule_id == rule_id, AnalyticsJob.status.in_(OPEN_STATUSES))
        .order_by(AnalyticsJob.created_at.desc())
        .limit(1)
    )
    return await session.scalar(stmt.with_for_update() if lock else stmt)


async def open_jobs(session: AsyncSession, rule_id: str) -> Sequence[AnalyticsJob]:
    """Return every job of the rule that still has work."""
    stmt = select(AnalyticsJob).where(
        AnalyticsJob.rule_id == rule_id, AnalyticsJob.status.in_(OPEN_STATUSES)
    )
    return (await session.scalars(stmt)).all()


def _rule_items(rule_id: str) -> Select[JobItem]:
    return (
        select(JobItem)
        .join(AnalyticsJob, AnalyticsJob.id == JobItem.job_id)
        .where(AnalyticsJob.rule_id == rule_id)
    )


async def spent_since(session: AsyncSession, rule_id: str, since: datetime) -> float:
    """Return what the rule's verdicts judged since ``since`` cost, in USD."""
    stmt = _rule_items(rule_id).with_only_columns(func.coalesce(func.sum(JobItem.cost_usd), 0.0))
    return float(await session.scalar(stmt.where(JobItem.judged_at >= since)) or 0.0)


async def backlog(session: AsyncSession, rule_id: str) -> int:
    """Return how many runs the rule picked still wait for a verdict."""
    stmt = (
        _rule_items(rule_id)
        .with_only_columns(func.count())
        .where(AnalyticsJob.status.in_(OPEN_STATUSES), JobItem.status.in_(WAITING_ITEMS))
    )
    return int(await session.scalar(stmt) or 0)


async def finished_since(
    session: AsyncSession, rule_id: str, since: datetime
) -> Sequence[Row[str, datetime | None, datetime | None]]:
    """Return (status, arrived_at, judged_at) of the rule's items finished since ``since``."""
    stmt = (
        _rule_items(rule_id)
        .join(Execution, Execution.id == JobItem.execution_id)
        .with_only_columns(JobItem.status, Execution.arrived_at, JobItem.judged_at)
        .where(
            JobItem.judged_at >= since,
            JobItem.status.in_((ItemStatus.SUCCESS, ItemStatus.FAILED)),
        )
    )
    return (await session.execute(stmt)).all()


async def overdue(
    session: AsyncSession, rule_id: str, arrived_before: datetime
) -> tuple[int, datetime | None]:
    """Return how many picked runs that arrived before a time still wait, and the oldest arrival."""
    stmt = (
        _rule_items(rule_id)
        .join(Execution, Execution.id == JobItem.execution_id)
        .with_only_columns(func.count(), func.min(Execution.arrived_at))
        .where(
            AnalyticsJob.status.in_(OPEN_STATUSES),
            JobItem.status.in_(WAITING_ITEMS),
            Execution.arrived_at < arrived_before,
        )
    )
    count, oldest = (await session.execute(stmt)).one()
    return int(count or 0), oldest
