"""SQL that differs between SQLite and PostgreSQL. Everything else is dialect-neutral."""

import sqlite3
import typing
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from itertools import chain
from typing import Any, assert_never

import asyncpg
from filelock import AsyncFileLock
from pydantic_core import to_json
from sqlalchemy import (
    JSON,
    ColumnElement,
    ColumnExpressionArgument,
    Date,
    DateTime,
    FromClause,
    Integer,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from execlens.db.base import UTCDateTime, as_utc
from execlens.db.engine import Dialect


@dataclass(frozen=True)
class CopyRecords:
    """Rows for PostgreSQL's binary COPY; the columns in ``as_text`` hold stored text."""

    records: list[tuple[Any, ...]]
    as_text: frozenset[str] = frozenset()

    def __len__(self) -> int:
        return len(self.records)


# Rows for ``bulk_upsert``, encoded by ``encode_rows``: PostgreSQL gets records for a binary
# COPY, SQLite every row's values in one flat list for multi-row VALUES statements. Pieces
# encoded apart (in worker processes, say) are concatenated in order by ``join_rows``.
EncodedRows = CopyRecords | list[Any]

# Any fixed 64-bit number, the same in every execlens process: the advisory lock that
# serialises schema upgrades of one PostgreSQL database.
MIGRATION_LOCK_KEY = 0x657865636C656E73  # "execlens"
# Likewise: the lock that lets one process at a time pick runs for judging rules.
RULE_PICKING_LOCK_KEY = 0x72756C6570696B  # "rulepik"

_UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE
# SQLite before 3.32 allows 999 parameters per statement, later versions 32766.
SQLITE_MAX_PARAMETERS = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999
# Measured: statements of a few hundred rows insert fastest; full ones repeat, so the
# sqlite3 module compiles them once and reuses them from its statement cache.
_SQLITE_ROWS_PER_STATEMENT = 250


def insert_on_conflict(dialect: Dialect, table: Table) -> postgresql.Insert | sqlite.Insert:
    """Return an INSERT for ``table`` that supports ``on_conflict_do_update``."""
    match dialect:
        case "sqlite":
            return sqlite.insert(table)
        case "postgresql":
            return postgresql.insert(table)
        case _:
            assert_never(dialect)


@asynccontextmanager
async def migration_lock(dialect: Dialect, url: str) -> AsyncIterator[None]:
    """Hold, on SQLite, a lock file beside the database while its schema is upgraded."""
    match dialect:
        case "sqlite":
            path = make_url(url).database
            if not path or path == ":memory:":
                yield
                return
            # Without it, a starter would wait for another's migration on SQLite's own
            # lock, only for busy_timeout (10 s), then fail while a long migration runs.
            async with AsyncFileLock(f"{path}.migrate.lock", mode=0o600):
                yield
        case "postgresql":
            yield  # lock_migrations takes PostgreSQL's lock on the migration's connection.
        case _:
            assert_never(dialect)


def lock_migrations(dialect: Dialect, connection: Connection) -> None:
    """Make ``connection``'s transaction wait until no other process is migrating."""
    match dialect:
        case "sqlite":
            # migration_lock is held already, and the writer's transaction began with
            # BEGIN IMMEDIATE, which holds the database file's write lock until it commits.
            return
        case "postgresql":
            # A transaction-level lock is released by the commit or rollback that ends the
            # migration, so a failed upgrade can never leave it held on a pooled connection.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        case _:
            assert_never(dialect)


async def hold_lock(session: AsyncSession, dialect: Dialect, key: int) -> None:
    """Make the session's write transaction wait for, then hold until it ends, lock ``key``.

    PostgreSQL's advisory lock, released by the commit or rollback; SQLite's write
    transactions already run one at a time.
    """
    match dialect:
        case "sqlite":
            return
        case "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        case _:
            assert_never(dialect)


def utc_day_number(
    dialect: Dialect, column: ColumnExpressionArgument[datetime]
) -> ColumnElement[int]:
    """Return the UTC calendar day of a timestamp column as days since 1970-01-01.

    Spelled exactly as the trends index ``ix_executions_graph_day_finished`` spells it
    (constants inline, not bound), so both databases read the day from that index in
    order: grouping by it needs no sort and no per-row date arithmetic. Window frames
    ``RANGE BETWEEN n PRECEDING`` count days on this number.
    """
    match dialect:
        case "sqlite":
            # Timestamps are stored as UTC text "YYYY-MM-DD HH:MM:SS.ffffff" (UTCDateTime and
            # the bulk path write the same bytes): the first 10 characters are the UTC day.
            # julianday of a bare date is exact and ends in .5 (Julian days start at noon).
            day = func.substr(column, literal_column("1"), literal_column("10"))
            return cast(func.julianday(day) - literal_column("2440587.5"), Integer)
        case "postgresql":
            # date(timestamptz) follows the session's TimeZone; convert to UTC explicitly.
            utc_date = cast(func.timezone(literal_column("'UTC'"), column), Date)
            return type_coerce(utc_date - literal_column("DATE '1970-01-01'"), Integer)
        case _:
            assert_never(dialect)


def one_of(
    dialect: Dialect, column: ColumnElement[str], values: Sequence[str]
) -> ColumnElement[bool]:
    """Return ``column IN values`` for text values, bound as one parameter whatever their count.

    ``IN (...)`` binds one parameter per value: SQLAlchemy renders and converts each, and
    asyncpg prepares a new statement for every count. ``= ANY(array)`` (PostgreSQL) and
    ``IN (SELECT value FROM json_each(array))`` (SQLite) are one statement for any count.
    """
    match dialect:
        case "sqlite":
            # The values as one JSON array, read back as rows by json_each.
            each = func.json_each(bindparam(None, to_json(list(values)).decode(), type_=Text()))
            return column.in_(select(literal_column("value")).select_from(each))
        case "postgresql":
            array = bindparam(None, list(values), type_=postgresql.ARRAY(Text()))
            return column == any_(array)
        case _:
            assert_never(dialect)


def in_order(dialect: Dialect, values: Sequence[str]) -> FromClause:
    """Return text values as rows (``value``, ``position``), numbered from 1 in their order.

    Bound as one parameter whatever their count, as in ``one_of``: ``unnest(array) WITH
    ORDINALITY`` (PostgreSQL), ``json_each(array)`` (SQLite, which numbers from 0).
    """
    match dialect:
        case "sqlite":
            each = func.json_each(bindparam(None, to_json(list(values)).decode(), type_=Text()))
            rows = each.table_valued(column("value", Text), "key").alias("each")
            return select(rows.c.value, (rows.c.key + 1).label("position")).subquery("ordered")
        case "postgresql":
            array = bindparam(None, list(values), type_=postgresql.ARRAY(Text()))
            rows = func.unnest(array).table_valued(
                column("value", Text), with_ordinality="position"
            )
            return rows.render_derived("ordered")
        case _:
            assert_never(dialect)


def _is_json(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type, JSON)


def _is_datetime(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type, UTCDateTime | DateTime)


def utc_text(value: datetime) -> str:
    """Return ``value`` in UTC as "YYYY-MM-DD HH:MM:SS.ffffff"; naive means UTC."""
    if value.utcoffset():
        value = as_utc(value)
    # date() and time() drop the time zone: cheaper than replace(tzinfo=None).
    return datetime.combine(value.date(), value.time()).isoformat(" ", "microseconds")


def _json_text(value: Any) -> str:
    # NaN and Infinity are not JSON; like JSON.stringify, store them as null rather than
    # let PostgreSQL refuse the batch (and keep SQLite's copy identical).
    return to_json(value, inf_nan_mode="null").decode()


def _record_datetime(value: datetime) -> datetime:
    # asyncpg reads a naive datetime as local time: execlens's naive means UTC. A far
    # offset is converted here, where as_utc can say which value is out of range.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return as_utc(value) if value.utcoffset() else value


@cache
def _converters(
    dialect: Dialect, table: Table, columns: tuple[str, ...], as_text: frozenset[str]
) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    # SQLite stores datetimes in SQLAlchemy's text format for DATETIME: bulk rows must match
    # it byte for byte to sort and compare like ORM-written rows.
    to_datetime = utc_text if dialect == "sqlite" else _record_datetime
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for index, name in enumerate(columns):
        if name in as_text:
            continue
        if _is_datetime(table, name):
            converters.append((index, to_datetime))
        elif _is_json(table, name):
            converters.append((index, _json_text))
    return tuple(converters)


def _converted(
    rows: Iterable[Sequence[Any]], converters: tuple[tuple[int, Callable[[Any], Any]], ...]
) -> Iterable[Sequence[Any]]:
    if not converters:
        return rows
    converted = []
    for row in rows:
        values = list(row)
        for index, convert in converters:
            if values[index] is not None:
                values[index] = convert(values[index])
        converted.append(tuple(values))
    return converted


def encode_rows(
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    rows: Iterable[Sequence[Any]],
    *,
    as_text: frozenset[str] = frozenset(),
) -> EncodedRows:
    """Encode ``rows`` (values in the order of ``columns``) for ``bulk_upsert``.

    Values of the time and JSON columns in ``as_text`` come as stored text already: UTC
    times as ``utc_text`` writes them, valid JSON text without NUL characters.
    """
    rows = _converted(rows, _converters(dialect, table, columns, as_text))
    match dialect:
        case "sqlite":
            return list(chain.from_iterable(rows))
        case "postgresql":
            return CopyRecords([tuple(row) for row in rows], as_text)
        case _:
            assert_never(dialect)


def join_rows(dialect: Dialect, pieces: Iterable[EncodedRows]) -> EncodedRows:
    """Concatenate rows encoded apart by ``encode_rows``, in order."""
    match dialect:
        case "sqlite":
            return list(chain.from_iterable(typing.cast(Iterable[list[Any]], pieces)))
        case "postgresql":
            parts = typing.cast(list[CopyRecords], list(pieces))
            as_text = parts[0].as_text if parts else frozenset()
            return CopyRecords(list(chain.from_iterable(p.records for p in parts)), as_text)
        case _:
            assert_never(dialect)


@dataclass(frozen=True)
class _Keep:
    """Columns an upsert does not simply overwrite (see ``bulk_upsert``)."""

    existing: tuple[str, ...] = ()
    first: tuple[str, ...] = ()


@cache
def _conflict_clause(table: Table, columns: tuple[str, ...], keep: _Keep) -> str:
    keys = [c.name for c in table.primary_key.columns]
    updates = ", ".join(_update(table.name, n, keep) for n in columns if n not in keys)
    return f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"


def _update(table: str, name: str, keep: _Keep) -> str:
    if name in keep.existing:
        return f"{name} = coalesce(excluded.{name}, {table}.{name})"
    if name in keep.first:
        return f"{name} = coalesce({table}.{name}, excluded.{name})"
    return f"{name} = excluded.{name}"


@cache
def _sqlite_upsert_sql(
    table: Table, columns: tuple[str, ...], keep: _Keep, rows: int, tail: str = ""
) -> str:
    row = f"({', '.join('?' * len(columns))})"
    values = ", ".join([row] * rows)
    conflict = _conflict_clause(table, columns, keep)
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {values} {conflict}{tail}"


@cache
def _postgresql_staging(
    table: Table,
    columns: tuple[str, ...],
    keep: _Keep | None,
    as_text: frozenset[str],
    tail: str = "",
) -> tuple[str, str, str]:
    """Return a staging table's name, its DDL, and the upsert from it into ``table``.

    With a ``tail`` (``bulk_upsert_returning``), rows are upserted in key order. Without
    ``keep``, the statement is a plain INSERT (``insert_new``).
    """
    staging = f"bulk_{table.name}" + ("_text" if as_text else "")
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    definitions, selected = [], []
    for name in columns:
        if name in as_text and _is_datetime(table, name):
            # Stored UTC text ("YYYY-MM-DD HH:MM:SS.ffffff"), read as UTC.
            definitions.append(f"{name} text")
            selected.append(f"CAST({name} AS timestamp) AT TIME ZONE 'UTC'")
        else:
            definitions.append(f"{name} {table.c[name].type.compile(dialect=dialect)}")
            selected.append(name)
    ddl = (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ({', '.join(definitions)}) "
        "ON COMMIT DELETE ROWS"
    )
    insert = f"INSERT INTO {table.name} ({', '.join(columns)}) "
    insert += f"SELECT {', '.join(selected)} FROM {staging}"
    if keep is None:
        return staging, ddl, insert
    conflict = _conflict_clause(table, columns, keep)
    order = f" ORDER BY {', '.join(c.name for c in table.primary_key.columns)}" if tail else ""
    return staging, ddl, f"{insert}{order} {conflict}{tail}"


async def _postgresql_upsert(
    session: AsyncSession,
    table: Table,
    columns: tuple[str, ...],
    rows: CopyRecords,
    keep: _Keep | None,
    tail: str = "",
) -> list[Any]:
    # COPY into a temporary table, then upsert from it: COPY cannot upsert, and its binary
    # form costs PostgreSQL and asyncpg (which encodes in C) far less than parameters.
    staging, ddl, upsert = _postgresql_staging(table, columns, keep, rows.as_text, tail)
    connection = await session.connection()
    # Also begins the transaction, which the COPY below, sent past SQLAlchemy, joins.
    await connection.exec_driver_sql(ddl)
    # Empty already unless this transaction upserted into the table before.
    await connection.exec_driver_sql(f"DELETE FROM {staging}")
    await _copy(connection, staging, columns, rows.records)
    result = await connection.exec_driver_sql(upsert)
    return list(result.scalars()) if tail else []


async def _copy(
    connection: AsyncConnection, table: str, columns: Sequence[str], records: Any
) -> None:
    """COPY records into a table in the connection's transaction, past SQLAlchemy."""
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None  # an open asyncpg connection
    try:
        await driver.copy_records_to_table(table, records=records, columns=columns)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # As SQLAlchemy raises a failed statement: callers and the error handlers (a full
        # disk, a deadlock, a lost connection) know SQLAlchemy's errors, not asyncpg's.
        raise DBAPIError(f"COPY {table}", None, exc) from exc


async def _sqlite_upsert(
    session: AsyncSession,
    table: Table,
    columns: tuple[str, ...],
    values: list[Any],
    keep: _Keep,
    tail: str = "",
) -> list[Any]:
    width = len(columns)
    rows_per_statement = min(_SQLITE_ROWS_PER_STATEMENT, SQLITE_MAX_PARAMETERS // width)
    step = rows_per_statement * width
    connection = await session.connection()
    returned: list[Any] = []
    for start in range(0, len(values), step):
        part = tuple(values[start : start + step])
        sql = _sqlite_upsert_sql(table, columns, keep, len(part) // width, tail)
        result = await connection.exec_driver_sql(sql, part)
        if tail:
            returned += result.scalars()
    return returned


async def bulk_upsert(
    session: AsyncSession,
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    rows: EncodedRows,
    *,
    keep_existing: tuple[str, ...] = (),
    keep_first: tuple[str, ...] = (),
) -> None:
    """Upsert rows encoded by ``encode_rows`` by primary key, in few statements.

    The values skip SQLAlchemy's per-value binding, which costs several times more than
    the database's own work: SQLite binds them in C, PostgreSQL reads them with COPY.
    Columns in ``keep_existing`` keep their stored value when the new one is null; those
    in ``keep_first`` keep a stored value once there is one.
    """
    if rows:
        keep = _Keep(keep_existing, keep_first)
        await _upsert(session, dialect, table, columns, rows, keep)


async def bulk_upsert_returning(
    session: AsyncSession,
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    rows: EncodedRows,
    *,
    keep_existing: tuple[str, ...] = (),
    keep_first: tuple[str, ...] = (),
    update_where: str,
) -> list[Any]:
    """Upsert like ``bulk_upsert``, a stored row only where ``update_where`` holds.

    Return the first primary key column of the rows inserted or updated, not of those
    ``update_where`` left alone. On PostgreSQL, rows are upserted in key order, so that
    concurrent calls take their row locks in one order.
    """
    if not rows:
        return []
    keep = _Keep(keep_existing, keep_first)
    tail = _returning(table, update_where)
    return await _upsert(session, dialect, table, columns, rows, keep, tail)


async def insert_new(
    session: AsyncSession,
    dialect: Dialect,
    writes: Sequence[tuple[Table, tuple[str, ...], EncodedRows]],
) -> bool:
    """Insert rows that no table holds yet, all or none; tell whether they were inserted.

    On PostgreSQL each table's rows go by binary COPY straight into it, or (times as
    text) through the staging table by a plain INSERT: no ``ON CONFLICT``. A key stored
    already (another writer got there first) undoes them all, and False tells the caller
    to upsert instead. SQLite's upsert costs little more than its insert: there it
    always answers False.
    """
    match dialect:
        case "sqlite":
            return False
        case "postgresql":
            records = [(t, c, typing.cast(CopyRecords, r)) for t, c, r in writes if r]
            return not records or await _postgresql_copy_new(session, records)
        case _:
            assert_never(dialect)


async def _postgresql_copy_new(
    session: AsyncSession, writes: Sequence[tuple[Table, tuple[str, ...], CopyRecords]]
) -> bool:
    connection = await session.connection()
    try:
        # A savepoint, so a conflict undoes only these rows, not the caller's transaction.
        async with connection.begin_nested():
            for table, columns, rows in writes:
                if any(_is_datetime(table, name) for name in rows.as_text):
                    # Times as text: through the staging table that casts them.
                    await _postgresql_upsert(session, table, columns, rows, None)
                else:
                    await _copy(connection, table.name, columns, rows.records)
    except DBAPIError as exc:
        # Its driver's error (asyncpg's, or SQLAlchemy's adapter of it) carries the SQLSTATE.
        if getattr(exc.orig, "sqlstate", None) != _UNIQUE_VIOLATION:
            raise
        return False
    return True


def _returning(table: Table, update_where: str | None) -> str:
    """Return the tail that limits updates to ``update_where`` and returns the keys upserted."""
    if update_where is None:
        return ""
    return f" WHERE {update_where} RETURNING {table.primary_key.columns[0].name}"


async def _upsert(
    session: AsyncSession,
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    rows: EncodedRows,
    keep: _Keep,
    tail: str = "",
    *,
    few: bool = False,
) -> list[Any]:
    match dialect:
        case "sqlite":
            assert isinstance(rows, list)
            return await _sqlite_upsert(session, table, columns, rows, keep, tail)
        case "postgresql":
            assert isinstance(rows, CopyRecords)
            upsert = _postgresql_array_upsert if few else _postgresql_upsert
            return await upsert(session, table, columns, rows, keep, tail)
        case _:
            assert_never(dialect)


@cache
def _postgresql_array_upsert_sql(
    table: Table,
    columns: tuple[str, ...],
    keep: _Keep,
    as_text: frozenset[str],
    tail: str,
    constant: frozenset[int],
) -> str:
    """Return an upsert reading one array per column through ``unnest``.

    The columns in ``constant`` (indexes; never the first) take one value for every row.
    """
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    arrays, names, selected = [], [], []
    for number, name in enumerate(columns, start=1):
        text = name in as_text and _is_datetime(table, name)
        kind = "text" if text else table.c[name].type.compile(dialect=dialect)
        if number - 1 in constant:
            value = f"${number}::{kind}"
        else:
            arrays.append(f"${number}::{kind}[]")
            names.append(name)
            value = name
        # Stored UTC text ("YYYY-MM-DD HH:MM:SS.ffffff"), read as UTC.
        selected.append(f"CAST({value} AS timestamp) AT TIME ZONE 'UTC'" if text else value)
    order = f" ORDER BY {', '.join(c.name for c in table.primary_key.columns)}" if tail else ""
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"SELECT {', '.join(selected)} FROM unnest({', '.join(arrays)}) "
        f"AS rows ({', '.join(names)}){order} {_conflict_clause(table, columns, keep)}{tail}"
    )


async def _postgresql_array_upsert(
    session: AsyncSession,
    table: Table,
    columns: tuple[str, ...],
    rows: CopyRecords,
    keep: _Keep,
    tail: str,
) -> list[Any]:
    # One statement, prepared once per connection: the COPY path's temporary table costs
    # PostgreSQL four statements and a truncation at commit, more than a few rows' work.
    arrays = [list(values) for values in zip(*rows.records, strict=True)]
    # asyncpg checks each array element's type in Python: a value shared by every row (a
    # request's time, say) goes once, not once per row.
    constant = frozenset(
        index
        for index, values in enumerate(arrays)
        if index and len(values) > 1 and values.count(values[0]) == len(values)
    )
    sql = _postgresql_array_upsert_sql(table, columns, keep, rows.as_text, tail, constant)
    params = tuple(values[0] if i in constant else values for i, values in enumerate(arrays))
    connection = await session.connection()
    result = await connection.exec_driver_sql(sql, params)
    return list(result.scalars()) if tail else []


async def upsert_few(
    session: AsyncSession,
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    rows: EncodedRows,
    *,
    keep_existing: tuple[str, ...] = (),
    keep_first: tuple[str, ...] = (),
    update_where: str | None = None,
) -> list[Any]:
    """Upsert like ``bulk_upsert_returning`` (``update_where`` optional) in one statement.

    For the few rows of one request: on PostgreSQL the values go as one array per column,
    without ``bulk_upsert``'s temporary table. Return the keys upserted with
    ``update_where``, else nothing.
    """
    if not rows:
        return []
    keep = _Keep(keep_existing, keep_first)
    tail = _returning(table, update_where)
    return await _upsert(session, dialect, table, columns, rows, keep, tail, few=True)


@cache
def _update_rows_sql(dialect: Dialect, table: Table, columns: tuple[str, ...], rows: int) -> str:
    """Return an UPDATE of ``table`` from rows of ``columns``, matched on the first one."""
    key, *rest = columns
    sets = ", ".join(f"{name} = v.{name}" for name in rest)
    match dialect:
        case "sqlite":
            values = ", ".join([f"({', '.join('?' * len(columns))})"] * rows)
            source = f"(VALUES {values})"
            return (
                f"WITH v ({', '.join(columns)}) AS {source} "
                f"UPDATE {table.name} SET {sets} FROM v WHERE {table.name}.{key} = v.{key}"
            )
        case "postgresql":
            compiler = postgresql.dialect()  # type: ignore[no-untyped-call]
            arrays = ", ".join(
                f"${number}::{table.c[name].type.compile(dialect=compiler)}[]"
                for number, name in enumerate(columns, start=1)
            )
            return (
                f"UPDATE {table.name} SET {sets} FROM unnest({arrays}) AS v ({', '.join(columns)}) "
                f"WHERE {table.name}.{key} = v.{key}"
            )
        case _:
            assert_never(dialect)


async def update_rows(
    session: AsyncSession,
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    rows: EncodedRows,
) -> None:
    """Update stored rows (``encode_rows`` rows) matched on the first column, in few statements.

    SQLAlchemy's executemany runs one UPDATE per row: PostgreSQL plans and executes each.
    """
    if not rows:
        return
    connection = await session.connection()
    if isinstance(rows, CopyRecords):
        arrays = tuple(list(values) for values in zip(*rows.records, strict=True))
        await connection.exec_driver_sql(_update_rows_sql(dialect, table, columns, 0), arrays)
        return
    width = len(columns)
    step = min(_SQLITE_ROWS_PER_STATEMENT, SQLITE_MAX_PARAMETERS // width) * width
    for start in range(0, len(rows), step):
        part = tuple(rows[start : start + step])
        sql = _update_rows_sql(dialect, table, columns, len(part) // width)
        await connection.exec_driver_sql(sql, part)


def storage_problem(exc: BaseException) -> str | None:
    """Say what to do when the database is full, locked or unreachable; None otherwise."""
    text = str(getattr(exc, "orig", exc)).lower()
    if "database or disk is full" in text or "could not extend file" in text:
        return (
            "the database is out of space (its disk is full or it reached a size limit); "
            "nothing from this request was written. Free some space and retry"
        )
    if "database is locked" in text:
        return (
            "the SQLite database stayed locked by another writer for longer than "
            "EXECLENS_SQLITE_BUSY_TIMEOUT_MS; nothing from this request was written. Retry, "
            "or raise that timeout"
        )
    if "deadlock detected" in text:
        return (
            "PostgreSQL ended this transaction to break a deadlock with another writer; "
            "nothing from this request was written. Retry"
        )
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "the database connection was lost; retry shortly"
    if isinstance(exc, OSError | DBAPIError) and "connect" in text:
        return "the database is unreachable; check that it is running, then retry"
    return None
