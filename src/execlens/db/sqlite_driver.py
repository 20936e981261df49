"""SQLite through aiosqlite with one trip to the connection's thread per statement.

aiosqlite runs each call on its connection's own thread, and SQLAlchemy's adapter makes
three or four such calls per statement: open a cursor, execute, fetch the rows, close
the cursor. Each trip wakes the thread and then the event loop, about 50 µs of CPU,
more than a small statement costs SQLite itself; a judged run paid for about five.
This cursor does all four in one trip. Everything else is SQLAlchemy's aiosqlite
dialect as it is: its pool, its connection, its errors, its server-side cursors.
"""

import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, cast

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

# What one trip brings back: the cursor's description, rowcount, lastrowid and rows.
_Outcome = tuple[Any, int, int | None, list[Any]]


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """On the connection's thread: execute, read every row, close the cursor."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statement, rows and close take one trip to the thread."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # No aiosqlite cursor: each statement opens and closes its own on the thread.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        """Return the last statement's column description (None without rows)."""
        return self._description

    @property
    def rowcount(self) -> int:
        """Return the rows the last statement changed."""
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        """Return the row id the last INSERT gave."""
        return self._lastrowid

    async def _async_soft_close(self) -> None:
        return  # the rows are read and the cursor closed in the statement's own trip

    def close(self) -> None:
        """Forget unread rows; the thread's cursor is closed already."""
        self._rows.clear()

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._trip(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._trip(operation, seq_of_parameters, many=True)

    async def _trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection = cast(aiosqlite.Connection, self._connection)
        # aiosqlite's own way to run a function on the connection's thread, as SQLAlchemy
        # uses its queue for the isolation level.
        on_thread = cast(Callable[..., Awaitable[_Outcome]], connection._execute)
        async with self._adapt_connection._execute_mutex:
            outcome = await on_thread(_run, connection._conn, operation, parameters, many)
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = deque(rows)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite connection with the one-trip cursor."""

    __slots__ = ()

    _cursor_cls = OneTripCursor


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite DBAPI, connecting with the one-trip cursor."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        """Open an aiosqlite connection on its own (daemon) thread."""
        connection = self.aiosqlite.connect(*arg, **kw)
        # As SQLAlchemy's own: a forgotten connection must not keep the process alive.
        connection._thread.daemon = True
        return OneTripConnection(self, await_(connection))


def one_trip_dbapi() -> OneTripDBAPI:
    """Return the DBAPI module to hand create_async_engine as ``module``."""
    return OneTripDBAPI(aiosqlite, sqlite3)
