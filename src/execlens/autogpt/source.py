"""AutoGPT's database: its DATABASE_URL, the engine that reads it, and its errors."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from pydantic_core import from_json
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from execlens.errors import UserError

URL_EXAMPLE = "postgresql://user:pass@host:5432/db?schema=platform"
_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")
# A plain identifier: it goes into search_path, so nothing that needs quoting rules.
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


class SourceError(UserError):
    """AutoGPT's database is unreachable, refused a query, or lacks what execlens reads."""


@dataclass(frozen=True)
class SourceDatabase:
    """Where AutoGPT's tables are: an asyncpg URL and the schema that holds them."""

    url: URL
    schema: str

    @property
    def label(self) -> str:
        """Return the URL without its password, with the schema, for messages."""
        shown = self.url.set(drivername="postgresql", query={})
        return f"{shown.render_as_string(hide_password=True)} (schema {self.schema})"


def parse_source_url(text: str) -> SourceDatabase:
    """Read AutoGPT's DATABASE_URL; raise ValueError saying what to fix (never echoing it)."""
    try:
        url = make_url(text.strip())
    except ArgumentError:
        raise ValueError(
            f"is not a database URL; use AutoGPT's DATABASE_URL: {URL_EXAMPLE}"
        ) from None
    if url.drivername not in _SCHEMES:
        raise ValueError(f"must be a postgresql:// URL, AutoGPT's DATABASE_URL: {URL_EXAMPLE}")
    if not url.database:
        raise ValueError(f"names no database; use the form {URL_EXAMPLE}")
    schema = _last(url.query.get("schema")) or "public"
    if not _SCHEMA_NAME.match(schema):
        raise ValueError("schema= must be a plain schema name such as platform or public")
    # Prisma's own parameters (connection_limit, pgbouncer, ...) mean nothing to asyncpg.
    sslmode = _last(url.query.get("sslmode"))
    query = {"ssl": sslmode} if sslmode else {}
    return SourceDatabase(url.set(drivername="postgresql+asyncpg", query=query), schema)


def _last(value: str | tuple[str, ...] | None) -> str | None:
    return value[-1] if isinstance(value, tuple) else value


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
