"""SQL for analytics jobs: selection, atomic claims with leases, results, workers."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CursorResult,
    Integer,
    Row,
    Select,
    Update,
    and_,
    bindparam,
    delete,
    exists,
    false,
    func,
    insert,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, with_expression
from sqlalchemy.sql.dml import ReturningUpdate

from execlens.db.base import Base
from execlens.db.dialect import insert_on_conflict
from execlens.db.engine import Dialect
from execlens.executions.models import FINISHED_STATUSES, Execution
from execlens.executions.repository import select_executions
from execlens.jobs.models import (
    ACTIVE_STATUSES,
    AnalyticsJob,
    ItemStatus,
    JobItem,
    ProviderBucket,
    WorkerRecord,
)
from execlens.judge.models import VerdictRecord
from execlens.judge.prompts import JUDGE_VERSION


def already_judged(job: AnalyticsJob) -> ColumnElement[bool]:
    """Return a condition on Execution that is true when ``job`` must not judge it again."""
    if not job.skip_existing:
        return false()
    # Upstream rule: skip only when both the summary and the score exist.
    scored = and_(Execution.activity_status.is_not(None), Execution.correctness_score.is_not(None))
    if not job.rescore_if_judge_changed:
        return scored
    latest = aliased(VerdictRecord)
    latest_id = (
        select(latest.id)
        .where(latest.execution_id == Execution.id)
        .order_by(latest.created_at.desc())
        .limit(1)
        .correlate(Execution)
        .scalar_subquery()
    )
    current = (
        exists()
        .where(
            VerdictRecord.id == latest_id,
            VerdictRecord.judge_version == JUDGE_VERSION,
            VerdictRecord.prompt_hash == job.prompt_hash,
            or_(VerdictRecord.judge == "rules", VerdictRecord.model == job.model),
        )
        .correlate(Execution)
    )
    return and_(scored, current)


def _candidates(
    job: AnalyticsJob, after_key: tuple[datetime, str] | None = None
) -> Select[Execution]:
    stmt = select_executions(
        graph_id=job.graph_id,
        user_id=job.user_id,
        created_after=job.created_after,
        created_before=job.created_before,
        after_key=after_key,
    ).where(Execution.status.in_(FINISHED_STATUSES))
    if job.graph_version is not None:
        stmt = stmt.where(Execution.graph_version == job.graph_version)
    return stmt


async def count_candidates(session: AsyncSession, job: AnalyticsJob) -> tuple[int, int]:
    """Return how many finished executions match ``job``, and how many of them need judging."""
    judged = already_judged(job)
    sub = _candidates(job).with_only_columns(judged.label("judged")).order_by(None).subquery()
    row = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(sql_cast(sub.c.judged, Integer)), 0))
        )
    ).one()
    total, done = int(row[0]), int(row[1])
    return total, total - done


async def select_chunk(
    session: AsyncSession, job: AnalyticsJob, size: int
) -> Sequence[Row[str, datetime, bool]]:
    """Return the next ``size`` matching executions after the job's cursor, newest first."""
    after = None
    if job.cursor_created_at is not None and job.cursor_id is not None:
        after = (job.cursor_created_at, job.cursor_id)
    stmt = (
        _candidates(job, after)
        .with_only_columns(Execution.id, Execution.created_at, already_judged(job))
        .limit(size)
    )
    return (await session.execute(stmt)).all()


async def is_already_judged(session: AsyncSession, job: AnalyticsJob, execution_id: str) -> bool:
    """Return True when the execution got a verdict ``job`` would skip since it was selected."""
    stmt = select(already_judged(job)).where(Execution.id == execution_id)
    return bool((await session.execute(stmt)).scalar())


async def insert_items(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Add work items."""
    if rows:
        await session.execute(insert(JobItem), rows)


async def get_job(session: AsyncSession, job_id: str, *, lock: bool = False) -> AnalyticsJob | None:
    """Return a job; with ``lock``, hold its row until the transaction ends (PostgreSQL)."""
    stmt = select(AnalyticsJob).where(AnalyticsJob.id == job_id)
    if lock:
        # SQLite has no row locks; its single writer already serialises these transactions.
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


Model = TypeVar("Model", bound=Base)


@dataclass(frozen=True)
class HeldRow(Generic[Model]):
    """A row read under its lock, as an object outside the session, and its values as read.

    A job's claims and commits of outcomes change a few of its columns each time:
    ``write_changes`` writes those with one Core UPDATE, without the ORM's identity map,
    autoflush and unit of work, which cost more CPU than the statements they sent.
    """

    obj: Model
    read: dict[str, Any]

    def changes(self) -> dict[str, Any]:
        """Return the columns whose values differ from those read, with their new values."""
        obj = self.obj
        return {key: new for key, old in self.read.items() if (new := getattr(obj, key)) != old}


@cache
def _locked_row_statement(model: type[Base]) -> Select[Any]:
    """Return the read of one row by primary key under its lock, built once."""
    table = model.__table__
    (key,) = table.primary_key.columns
    return select(*table.columns).where(key == bindparam("row_key")).with_for_update()


@cache
def _row_update_statement(model: type[Base]) -> Update:
    """Return the UPDATE of one row by primary key; its SET holds the parameters given."""
    table = model.__table__
    (key,) = table.primary_key.columns
    return update(table).where(key == bindparam("row_key"))


async def _hold_row(session: AsyncSession, model: type[Model], key: str) -> HeldRow[Model] | None:
    """Return a row by primary key, held until the transaction ends (PostgreSQL), or None."""
    row = (await session.execute(_locked_row_statement(model), {"row_key": key})).first()
    if row is None:
        return None
    read = row._asdict()
    return HeldRow(model(**read), read)


async def hold_job(session: AsyncSession, job_id: str) -> HeldRow[AnalyticsJob] | None:
    """Return a job's row, held until the transaction ends (PostgreSQL), outside the session.

    SQLite has no row locks; its single writer already serialises these transactions.
    """
    return await _hold_row(session, AnalyticsJob, job_id)


async def write_changes(session: AsyncSession, held: HeldRow[Model]) -> bool:
    """Write the columns of a held row that changed since it was read; return True if any."""
    changed = held.changes()
    if not changed:
        return False
    key = held.obj.__table__.primary_key.columns[0].key
    values = {"row_key": getattr(held.obj, key), **changed}
    await session.execute(_row_update_statement(type(held.obj)), values)
    held.read.update(changed)
    return True


async def provider_bucket(
    session: AsyncSession, key: str, now: datetime
) -> HeldRow[ProviderBucket]:
    """Return a provider key's rate budget, held until the transaction ends; create it full."""
    if (bucket := await _hold_row(session, ProviderBucket, key)) is not None:
        return bucket
    dialect = cast(Dialect, session.get_bind().dialect.name)
    # Long since updated: the first grant finds the bucket refilled to its burst.
    row = {"key": key, "requests": 0.0, "tokens": 0.0, "updated_at": now - timedelta(hours=1)}
    insert = insert_on_conflict(dialect, ProviderBucket.__table__).values(row)
    await session.execute(insert.on_conflict_do_nothing(index_elements=["key"]))
    bucket = await _hold_row(session, ProviderBucket, key)
    assert bucket is not None
    return bucket


async def list_jobs(
    session: AsyncSession, *, status: str | None, before: datetime | None, limit: int
) -> Sequence[AnalyticsJob]:
    """Return jobs newest first."""
    stmt = select(AnalyticsJob).order_by(AnalyticsJob.created_at.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(AnalyticsJob.status == status)
    if before is not None:
        stmt = stmt.where(AnalyticsJob.created_at < before)
    return (await session.execute(stmt)).scalars().all()


async def find_resumable(
    session: AsyncSession, params_key: str, statuses: Sequence[str]
) -> AnalyticsJob | None:
    """Return the newest job with these parameters in one of ``statuses``."""
    stmt = (
        select(AnalyticsJob)
        .where(AnalyticsJob.params_key == params_key, AnalyticsJob.status.in_(statuses))
        .order_by(AnalyticsJob.created_at.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def active_job_ids(session: AsyncSession) -> list[str]:
    """Return the ids of queued and running jobs, oldest first."""
    stmt = (
        select(AnalyticsJob.id)
        .where(AnalyticsJob.status.in_(ACTIVE_STATUSES))
        .order_by(AnalyticsJob.created_at)
    )
    return list((await session.execute(stmt)).scalars())


# The statements a job sends per claim and per commit of outcomes are Core, on the tables:
# ORM-enabled ones add its compile and result steps (and, for an UPDATE, a synchronisation
# with the session) to every execution.
_ITEMS = JobItem.__table__
_WORKERS = WorkerRecord.__table__


def _claimable(job_id: BindParameter[str], now: BindParameter[datetime]) -> ColumnElement[bool]:
    items = _ITEMS.c
    return and_(
        items.job_id == job_id,
        or_(
            # A pending item put back after a failed call waits until its retry time.
            and_(
                items.status == ItemStatus.PENDING,
                or_(items.lease_expires_at.is_(None), items.lease_expires_at < now),
            ),
            and_(items.status == ItemStatus.RUNNING, items.lease_expires_at < now),
        ),
    )


@cache
def _claim_statement() -> ReturningUpdate[int, str]:
    """Return the claim's UPDATE, built once with bind parameters.

    Building it and its cache key took about 1.5 ms of CPU per claim, more than a
    judged run's share of the claim's transaction; one statement object keeps both.
    """
    items = _ITEMS.c
    picked = (
        select(items.id)
        .where(_claimable(bindparam("claimed_job"), bindparam("now")))
        .order_by(items.id)
        .limit(bindparam("count", type_=Integer))
        .with_for_update(skip_locked=True)
    )
    return (
        update(_ITEMS)
        .where(items.id.in_(picked.scalar_subquery()))
        .values(
            status=ItemStatus.RUNNING,
            lease_owner=bindparam("claiming_worker"),
            lease_expires_at=bindparam("until"),
            attempts=items.attempts + 1,
        )
        .returning(items.id, items.execution_id)
    )


@cache
def _running_statement(excluding_owner: bool) -> Select[int]:
    """Return the count of a job's live leases, built once (see _claim_statement)."""
    items = _ITEMS.c
    stmt = select(func.count()).where(
        items.job_id == bindparam("counted_job"),
        items.status == ItemStatus.RUNNING,
        items.lease_expires_at >= bindparam("now"),
    )
    if excluding_owner:
        stmt = stmt.where(items.lease_owner != bindparam("other_than"))
    return stmt


async def running_count(
    session: AsyncSession, job_id: str, now: datetime, *, exclude_owner: str | None = None
) -> int:
    """Return how many items of a job are leased and not expired (calls in flight)."""
    values: dict[str, Any] = {"counted_job": job_id, "now": now}
    if exclude_owner is not None:
        values["other_than"] = exclude_owner
    stmt = _running_statement(exclude_owner is not None)
    return int((await session.execute(stmt, values)).scalar_one())


async def has_open_items(session: AsyncSession, job_id: str) -> bool:
    """Return True while a job has pending or running items."""
    stmt = select(
        exists().where(
            JobItem.job_id == job_id,
            JobItem.status.in_((ItemStatus.PENDING, ItemStatus.RUNNING)),
        )
    )
    return bool((await session.execute(stmt)).scalar())


async def claim_items(
    session: AsyncSession,
    *,
    job_id: str,
    worker_id: str,
    count: int,
    now: datetime,
    lease: timedelta,
) -> list[tuple[int, str]]:
    """Lease up to ``count`` pending (or abandoned) items of a job to ``worker_id``."""
    values = {
        "claimed_job": job_id,
        "now": now,
        "count": count,
        "claiming_worker": worker_id,
        "until": now + lease,
    }
    rows = (await session.execute(_claim_statement(), values)).all()
    return sorted((row[0], row[1]) for row in rows)


@cache
def _held_statement() -> Select[int, int]:
    """Return the read of the items a worker still holds, built once (see _claim_statement)."""
    items = _ITEMS.c
    return select(items.id, items.attempts).where(
        items.id.in_(bindparam("item_ids", expanding=True)),
        items.lease_owner == bindparam("holder"),
        items.status == ItemStatus.RUNNING,
    )


async def still_leased(
    session: AsyncSession, worker_id: str, item_ids: list[int]
) -> dict[int, int]:
    """Return which of these items ``worker_id`` still holds, with their attempt counts."""
    values = {"item_ids": item_ids, "holder": worker_id}
    return {row[0]: row[1] for row in await session.execute(_held_statement(), values)}


async def finish_items(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Record items' outcomes; each row has the item's ``id`` and the same keys.

    A pending item's ``lease_expires_at``, when a row sets it, is when it may be claimed
    again.
    """
    if not rows:
        return
    leases = {"lease_owner": None, "lease_expires_at": None}
    # Core's executemany, not the ORM's bulk update by primary key: that one walks each
    # row in Python and flushes the session first, which cost a wide job more CPU than
    # the statement itself.
    stmt = update(_ITEMS).where(_ITEMS.c.id == bindparam("item_id"))
    params = [
        {**leases, **{k: v for k, v in row.items() if k != "id"}, "item_id": row["id"]}
        for row in rows
    ]
    await session.execute(stmt, params)


async def renew_leases(session: AsyncSession, worker_id: str, until: datetime) -> None:
    """Extend the leases a live worker holds."""
    await session.execute(
        update(JobItem)
        .where(JobItem.lease_owner == worker_id, JobItem.status == ItemStatus.RUNNING)
        .values(lease_expires_at=until)
    )


async def release_items(session: AsyncSession, *, worker_id: str, job_id: str | None = None) -> int:
    """Give a worker's leased items (of one job, or all) back as pending for another run."""
    items = _ITEMS.c
    stmt = update(_ITEMS).where(items.lease_owner == worker_id, items.status == ItemStatus.RUNNING)
    if job_id is not None:
        stmt = stmt.where(items.job_id == job_id)
    result = await session.execute(
        stmt.values(status=ItemStatus.PENDING, lease_owner=None, lease_expires_at=None)
    )
    return int(cast("CursorResult[Any]", result).rowcount)


def _last_changed(runs: Any) -> ColumnElement[datetime]:
    # A run last changed when its latest verdict was stored, else when it ended.
    verdicts = VerdictRecord.__table__.c
    latest_verdict = (
        select(func.max(verdicts.created_at))
        .where(verdicts.execution_id == runs.id)
        .scalar_subquery()
    )
    return func.coalesce(latest_verdict, runs.ended_at, runs.created_at)


def _results() -> Select[JobItem, Execution]:
    changed = _last_changed(Execution)
    return (
        select(JobItem, Execution)
        .join(Execution, Execution.id == JobItem.execution_id)
        .options(with_expression(Execution.last_changed_at, changed))
    )


async def finished_after(
    session: AsyncSession, job_id: str, after: int, limit: int
) -> Sequence[Row[JobItem, Execution]]:
    """Return items that finished after position ``after``, in the order they finished."""
    stmt = (
        _results()
        .where(JobItem.job_id == job_id, JobItem.done_order > after)
        .order_by(JobItem.done_order)
        .limit(limit)
    )
    return (await session.execute(stmt)).all()


async def results_page(
    session: AsyncSession,
    job_id: str,
    *,
    after_id: int | None,
    limit: int,
    status: str | None = None,
) -> Sequence[Row[JobItem, Execution]]:
    """Return a job's items with their executions in selection order, from ``after_id``."""
    stmt = _results().where(JobItem.job_id == job_id).order_by(JobItem.id).limit(limit)
    if after_id is not None:
        stmt = stmt.where(JobItem.id > after_id)
    if status is not None:
        stmt = stmt.where(JobItem.status == status)
    return (await session.execute(stmt)).all()


@cache
def _report_statement() -> Select[Any]:
    """Return a page of a job's outcomes with their runs as plain rows, built once.

    Upstream's report lists every run of the job: read as ORM objects, two per run, the
    rows cost more than the rest of the report.
    """
    items, runs = _ITEMS.c, Execution.__table__.c
    return (
        select(
            items.id.label("item_id"),
            items.status,
            items.summary,
            items.score,
            items.error,
            runs.id,
            runs.graph_id,
            runs.graph_version,
            runs.user_id,
            runs.activity_status,
            runs.correctness_score,
            runs.created_at,
            _last_changed(runs).label("last_changed_at"),
            runs.started_at,
            runs.ended_at,
        )
        .join_from(_ITEMS, Execution.__table__, runs.id == items.execution_id)
        .where(items.job_id == bindparam("reported_job"), items.id > bindparam("after"))
        .order_by(items.id)
        .limit(bindparam("limit", type_=Integer))
    )


async def report_page(
    session: AsyncSession, job_id: str, *, after_id: int, limit: int
) -> Sequence[Any]:
    """Return a job's outcomes after item ``after_id`` in selection order, as plain rows.

    Each row has the item's ``item_id``, ``status``, ``summary``, ``score`` and
    ``error``, and its run's columns under their own names (the run's id as ``id``).
    """
    values = {"reported_job": job_id, "after": after_id, "limit": limit}
    rows: Sequence[Any] = (await session.execute(_report_statement(), values)).all()
    return rows


async def upsert_worker(session: AsyncSession, record: WorkerRecord) -> None:
    """Register a worker or refresh its heartbeat."""
    # One upsert, not merge's SELECT then INSERT: a job's first call waits for this beat.
    table = WorkerRecord.__table__
    values = {column.key: getattr(record, column.key) for column in table.columns}
    dialect = cast(Dialect, session.get_bind().dialect.name)
    stmt = insert_on_conflict(dialect, table).values(values)
    changed = {key: stmt.excluded[key] for key in values if key != "id"}
    await session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=changed))


async def remove_worker(session: AsyncSession, worker_id: str) -> None:
    """Forget a worker that stopped cleanly."""
    await session.execute(delete(WorkerRecord).where(WorkerRecord.id == worker_id))


@cache
def _live_workers_statement() -> Select[int]:
    """Return the count of live workers, built once (see _claim_statement)."""
    return select(func.count()).where(_WORKERS.c.heartbeat_at >= bindparam("since"))


async def live_workers(session: AsyncSession, since: datetime) -> int:
    """Return how many workers of any kind sent a heartbeat since ``since``."""
    return int((await session.execute(_live_workers_statement(), {"since": since})).scalar_one())


async def live_service_workers(session: AsyncSession, since: datetime) -> int:
    """Return how many service workers sent a heartbeat since ``since``."""
    stmt = select(func.count()).where(
        WorkerRecord.kind == "service", WorkerRecord.heartbeat_at >= since
    )
    return int((await session.execute(stmt)).scalar_one())


async def sample_to_judge(session: AsyncSession, job: AnalyticsJob, size: int) -> list[str]:
    """Return the ids of up to ``size`` executions ``job`` would judge first."""
    stmt = (
        _candidates(job)
        .with_only_columns(Execution.id)
        .where(not_(already_judged(job)))
        .limit(size)
    )
    return list((await session.execute(stmt)).scalars())
