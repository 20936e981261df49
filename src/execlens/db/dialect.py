"""SQL that differs between SQLite and PostgreSQL. Everything else is dialect-neutral."""

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache, partial
from typing import Any, assert_never

from sqlalchemy import JSON, DateTime, Table, TextClause, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.db.base import UTCDateTime, as_utc
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


def _is_json(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type, JSON)


def _is_datetime(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type, UTCDateTime | DateTime)


@cache
def _bulk_upsert_sql(
    dialect: Dialect, table: Table, keep_existing: tuple[str, ...] = ()
) -> TextClause:
    names = [c.name for c in table.columns]
    keys = [c.name for c in table.primary_key.columns]
    updates = ", ".join(
        f"{n} = coalesce(excluded.{n}, {table.name}.{n})"
        if n in keep_existing
        else f"{n} = excluded.{n}"
        for n in names
        if n not in keys
    )
    conflict = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    columns = ", ".join(names)
    match dialect:
        case "sqlite":
            values = ", ".join(
                f"nullif(value -> '$.{n}', 'null')" if _is_json(table, n) else f"value ->> '$.{n}'"
                for n in names
            )
            # "WHERE true" keeps SQLite from reading ON CONFLICT as part of the SELECT.
            source = f"SELECT {values} FROM json_each(:rows) WHERE true"
        case "postgresql":
            source = (
                f"SELECT {columns} FROM json_populate_recordset(NULL::{table.name}, "
                "CAST(:rows AS json))"
            )
        case _:
            assert_never(dialect)
    return text(f"INSERT INTO {table.name} ({columns}) {source} {conflict}")


def _encode(dialect: Dialect, value: Any) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"cannot store {type(value).__name__} in a JSON bulk row")
    if dialect == "sqlite":
        # SQLAlchemy's text format for SQLite DATETIME ("YYYY-MM-DD HH:MM:SS.ffffff"):
        # bulk rows must match it byte for byte to sort and compare like ORM-written rows.
        return as_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")
    return as_utc(value).isoformat()


async def bulk_upsert(
    session: AsyncSession,
    dialect: Dialect,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keep_existing: tuple[str, ...] = (),
) -> None:
    """Upsert ``rows`` by primary key in one statement, sending them as one JSON array.

    One parameter for the whole batch: the database parses the array in C, which is
    several times faster than SQLAlchemy binding every value of every row in Python.
    Columns in ``keep_existing`` keep their stored value when the new one is null.
    """
    if not rows:
        return
    payload = json.dumps(
        rows, separators=(",", ":"), ensure_ascii=False, default=partial(_encode, dialect)
    )
    await session.execute(_bulk_upsert_sql(dialect, table, keep_existing), {"rows": payload})
