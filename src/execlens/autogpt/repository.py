"""Queries on execlens's side of the sync: the cursor."""

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.autogpt.models import SyncCursor
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
        where=table.c.position <= stmt.excluded.position,
    )
    await session.execute(stmt)
