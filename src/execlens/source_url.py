"""AutoGPT's DATABASE_URL: where its tables are, parsed without echoing the URL.

It lives in the base layer because the settings validate EXECLENS_AUTOGPT_DATABASE_URL
with it when they are read; the sync itself is the autogpt package.
"""

import re
from dataclasses import dataclass

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

URL_EXAMPLE = "postgresql://user:pass@host:5432/db?schema=platform"
_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")
# A plain identifier: it goes into search_path, so nothing that needs quoting rules.
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


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
