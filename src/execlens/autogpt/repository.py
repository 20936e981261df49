"""Queries on execlens's side of the sync: the cursor and the lease."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.autogpt.models import SyncCursor, SyncedRun
from execlens.db.dialect import insert_on_conflict
from execlens.db.engine import Dialect


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


async def release_lease(session: AsyncSession, source: str, owner: str) -> None:
    """Give up the lease on ``source`` if ``owner`` holds it."""
    await session.execute(
        update(SyncCursor)
        .where(SyncCursor.source == source, SyncCursor.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


async def stored_changes(session: AsyncSession, ids: Sequence[str]) -> dict[str, datetime]:
    """Return the AutoGPT change time stored for each of these synced runs."""
    if not ids:
        return {}
    stmt = select(SyncedRun.execution_id, SyncedRun.changed_at).where(
        SyncedRun.execution_id.in_(ids)
    )
    return {row.execution_id: row.changed_at for row in await session.execute(stmt)}


async def save_changes(
    session: AsyncSession, dialect: Dialect, changes: Sequence[tuple[str, datetime]]
) -> None:
    """Store the AutoGPT change time of runs just written."""
    if not changes:
        return
    table = SyncedRun.__table__
    stmt = insert_on_conflict(dialect, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["execution_id"], set_={"changed_at": stmt.excluded.changed_at}
    )
    await session.execute(stmt, [{"execution_id": i, "changed_at": c} for i, c in changes])
