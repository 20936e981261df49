"""Queries on execlens's side of the sync: the cursor, the lease and write-back state."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.autogpt.models import SyncCursor, SyncedRun
from execlens.db.base import AnyRow
from execlens.db.dialect import bulk_upsert, encode_rows, insert_new, insert_on_conflict, one_of
from execlens.db.engine import Dialect
from execlens.executions.models import Execution
from execlens.judge.models import VerdictRecord

_CHANGE_COLUMNS = ("execution_id", "changed_at")


async def get_cursor(session: AsyncSession, source: str) -> datetime | None:
    """Return the newest change time synced from ``source``, or None before the first sync."""
    return await session.scalar(select(SyncCursor.position).where(SyncCursor.source == source))


async def save_cursor(
    session: AsyncSession, dialect: Dialect, source: str, position: datetime
) -> None:
    """Store ``position`` for ``source`` unless a later one is stored already."""
    table = SyncCursor.__table__
    row = {"source": source, "position": position, "synced_at": datetime.now(UTC)}
    stmt = insert_on_conflict(dialect, table).values(row)
    stmt = stmt.on_conflict_do_update(
        index_elements=["source"],
        set_={"position": stmt.excluded.position, "synced_at": stmt.excluded.synced_at},
        where=or_(table.c.position.is_(None), table.c.position <= stmt.excluded.position),
    )
    await session.execute(stmt)


async def claim_lease(
    session: AsyncSession, dialect: Dialect, source: str, owner: str, until: datetime
) -> bool:
    """Take or renew the lease on ``source`` unless another owner holds it; tell if held."""
    now = datetime.now(UTC)
    stmt = insert_on_conflict(dialect, SyncCursor.__table__).values(source=source, synced_at=now)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["source"]))
    # One conditional UPDATE: the row lock (PostgreSQL) or the write lock (SQLite) lets
    # exactly one of two claimers see the row free.
    claimed = await session.execute(
        update(SyncCursor)
        .where(
            SyncCursor.source == source,
            or_(
                SyncCursor.lease_owner.is_(None),
                SyncCursor.lease_owner == owner,
                SyncCursor.lease_until < now,
            ),
        )
        .values(lease_owner=owner, lease_until=until)
    )
    return cast(CursorResult[Any], claimed).rowcount == 1


async def renew_lease(session: AsyncSession, source: str, owner: str, until: datetime) -> bool:
    """Extend the lease on ``source`` if ``owner`` still holds it; never take a free one.

    A write that commits under the lease checks this: once its process has released the
    lease (it is stopping) or another took it, the write must roll back, not take it back.
    """
    renewed = await session.execute(
        update(SyncCursor)
        .where(SyncCursor.source == source, SyncCursor.lease_owner == owner)
        .values(lease_until=until)
    )
    return cast(CursorResult[Any], renewed).rowcount == 1


async def release_lease(session: AsyncSession, source: str, owner: str) -> None:
    """Give up the lease on ``source`` if ``owner`` holds it."""
    await session.execute(
        update(SyncCursor)
        .where(SyncCursor.source == source, SyncCursor.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


async def stored_changes(
    session: AsyncSession, dialect: Dialect, ids: Sequence[str]
) -> dict[str, datetime | None]:
    """Return, for each of these runs execlens stores, the AutoGPT change time synced.

    A run stored by another way in (REST ingest, import) and never synced maps to None.
    """
    if not ids:
        return {}
    stmt = (
        select(Execution.id, SyncedRun.changed_at)
        .outerjoin(SyncedRun, SyncedRun.execution_id == Execution.id)
        .where(one_of(dialect, Execution.__table__.c.id, ids))
    )
    return dict((await session.execute(stmt)).all())


async def save_changes(
    session: AsyncSession, dialect: Dialect, changes: Sequence[tuple[str, datetime]]
) -> None:
    """Store the AutoGPT change time of runs just written."""
    table = SyncedRun.__table__
    rows = encode_rows(dialect, table, _CHANGE_COLUMNS, changes)
    await bulk_upsert(session, dialect, table, _CHANGE_COLUMNS, rows)


async def save_new_changes(
    session: AsyncSession, dialect: Dialect, changes: Sequence[tuple[str, datetime]]
) -> None:
    """Store the AutoGPT change time of runs execlens did not store when they were read.

    Inserted without ON CONFLICT (on PostgreSQL a COPY, no temporary table); upserted if
    one is stored meanwhile.
    """
    table = SyncedRun.__table__
    rows = encode_rows(dialect, table, _CHANGE_COLUMNS, changes)
    if not await insert_new(session, dialect, [(table, _CHANGE_COLUMNS, rows)]):
        await bulk_upsert(session, dialect, table, _CHANGE_COLUMNS, rows)


async def due_write_backs(
    session: AsyncSession, *, after: str, limit: int, overwrite: bool
) -> Sequence[AnyRow]:
    """Return synced runs whose latest verdict AutoGPT has not been given, by id after ``after``.

    A run is due when its summary or score differs from the one write-back last handled,
    and, with ``overwrite``, also when write-back kept AutoGPT's own values last time.
    Only runs execlens judged count: a summary and score read from AutoGPT are its own.
    """
    differs = or_(
        Execution.activity_status.is_distinct_from(SyncedRun.written_summary),
        Execution.correctness_score.is_distinct_from(SyncedRun.written_score),
    )
    judged = exists().where(VerdictRecord.execution_id == SyncedRun.execution_id)
    stmt = (
        select(
            SyncedRun.execution_id,
            Execution.activity_status.label("summary"),
            Execution.correctness_score.label("score"),
            SyncedRun.written_summary,
            SyncedRun.written_score,
            SyncedRun.kept_theirs,
        )
        .join(Execution, Execution.id == SyncedRun.execution_id)
        .where(
            SyncedRun.execution_id > after,
            Execution.activity_status.is_not(None),
            Execution.correctness_score.is_not(None),
            or_(differs, SyncedRun.kept_theirs) if overwrite else differs,
            judged,
        )
        .order_by(SyncedRun.execution_id)
        .limit(limit)
    )
    return (await session.execute(stmt)).all()


@dataclass(frozen=True)
class HandledWriteBack:
    """A verdict write-back dealt with: written (or found in place), or AutoGPT's kept."""

    execution_id: str
    summary: str
    score: float
    kept_theirs: bool


async def save_write_backs(session: AsyncSession, handled: Sequence[HandledWriteBack]) -> None:
    """Remember which verdict each run's write-back handled, so it is not done again."""
    if not handled:
        return
    await session.execute(
        update(SyncedRun),
        [
            {
                "execution_id": h.execution_id,
                "written_summary": h.summary,
                "written_score": h.score,
                "kept_theirs": h.kept_theirs,
            }
            for h in handled
        ],
    )
