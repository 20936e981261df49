"""Queries for API keys."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.auth.models import ApiKey


async def get_api_key(session: AsyncSession, key_id: str) -> ApiKey | None:
    """Return one key by id, or None."""
    return await session.get(ApiKey, key_id)


async def get_api_key_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    """Return the key with this hash, or None."""
    return await session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))


async def list_api_keys(session: AsyncSession) -> Sequence[ApiKey]:
    """Return every key, newest first."""
    return (await session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc()))).all()
