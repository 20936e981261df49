"""SQL that differs between SQLite and PostgreSQL. Everything else is dialect-neutral."""

from typing import assert_never

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

from execlens.db.engine import Dialect


def insert_on_conflict(dialect: Dialect, table: Table) -> postgresql.Insert | sqlite.Insert:
    """Return an INSERT for ``table`` that supports ``on_conflict_do_update``."""
    match dialect:
        case "sqlite":
            return sqlite.insert(table)
        case "postgresql":
            return postgresql.insert(table)
        case _:
            assert_never(dialect)
