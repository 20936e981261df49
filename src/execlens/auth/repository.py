"""Queries for API keys."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.auth.models import ApiKey


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
