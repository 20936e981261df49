"""AutoGPT's database: the engine that reads it, and its errors."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic_core import from_json
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from execlens.errors import UserError
from execlens.source_url import SourceDatabase


class SourceError(UserError):
    """AutoGPT's database is unreachable, refused a query, or lacks what execlens reads."""


def source_engine(source: SourceDatabase, *, read_only: bool = True) -> AsyncEngine:
    """Return an engine on AutoGPT's tables by their bare quoted names, read-only by default."""
    settings = {
        # As AutoGPT's db.py does: its tables first, extensions (pgvector) after.
        "search_path": f'"{source.schema}", public',
        # Part of the contract: syncing needs SELECT grants only, and a bug cannot write.
        # Only write-back, opted into, gets an engine that may write.
        "default_transaction_read_only": "on" if read_only else "off",
        "application_name": "execlens-sync" if read_only else "execlens-write-back",
    }
    return create_async_engine(
        source.url,
        pool_size=2,
        max_overflow=0,
        connect_args={"server_settings": settings},
        # Every input and output is a jsonb value: pydantic-core parses them several
        # times faster than the json module.
        json_deserializer=from_json,
    )


@asynccontextmanager
async def source_connection(
    engine: AsyncEngine, source: SourceDatabase
) -> AsyncIterator[AsyncConnection]:
    """Yield a connection; turn a connection or query failure into one SourceError line."""
    try:
        async with engine.connect() as connection:
            yield connection
    except (OSError, DBAPIError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise SourceError(f"AutoGPT's database at {source.label}: {reason}") from None
