"""Queries for API keys and used sign-in links."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.auth.models import ApiKey, UsedSignInLink
from execlens.db.dialect import insert_on_conflict
from execlens.db.engine import Dialect


async def find_api_keys(session: AsyncSession, id_prefix: str) -> Sequence[ApiKey]:
    """Return the keys whose id starts with ``id_prefix``."""
    stmt = select(ApiKey).where(ApiKey.id.startswith(id_prefix, autoescape=True)).limit(2)
    return (await session.scalars(stmt)).all()


async def get_api_key_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    """Return the key with this hash, or None."""
    return await session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))


async def list_api_keys(session: AsyncSession) -> Sequence[ApiKey]:
    """Return every key, newest first."""
    return (await session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc()))).all()


async def mark_link_used(
    session: AsyncSession, dialect: Dialect, jti: str, *, now: datetime, expires_at: datetime
) -> bool:
    """Record a sign-in link as used; False when it already was (also by another worker)."""
    # Links past their expiry are refused by it: their rows are no longer needed.
    await session.execute(delete(UsedSignInLink).where(UsedSignInLink.expires_at < now))
    stmt = (
        insert_on_conflict(dialect, UsedSignInLink.__table__)
        .values(jti=jti, used_at=now, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["jti"])
    )
    result = await session.execute(stmt)
    return cast(CursorResult[Any], result).rowcount == 1
