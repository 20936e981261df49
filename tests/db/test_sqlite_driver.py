"""SQLite statements take one trip to their connection's thread, and behave as before."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from execlens.db.engine import Database
from execlens.executions.models import Execution, ExecutionStatus

CREATED = datetime(2026, 3, 1, tzinfo=UTC)


def execution(execution_id: str) -> dict[str, Any]:
    return {
        "id": execution_id,
        "graph_id": "g",
        "graph_version": 1,
        "user_id": "u",
        "status": ExecutionStatus.COMPLETED,
        "created_at": CREATED,
    }


@contextmanager
def trips_to_the_thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Collect each call aiosqlite runs on a connection's thread while the block runs."""
    trips: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    yield trips


async def test_a_sqlite_statement_takes_one_trip_to_its_connections_thread(
    tmp_path, monkeypatch: pytest.MonkeyPatch
):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with database.write() as session:
            await session.execute(text("CREATE TABLE scratch (x INTEGER)"))
        with trips_to_the_thread(monkeypatch) as trips:
            async with database.write() as session:
                await session.execute(text("INSERT INTO scratch VALUES (1), (2)"))
                rows = (await session.execute(text("SELECT x FROM scratch ORDER BY x"))).all()
        # BEGIN IMMEDIATE, the INSERT, the SELECT with its rows: a trip each (a cursor
        # opened, executed, read and closed in up to four trips cost 10), then COMMIT and
        # the pool's reset. That rollback stays: queued behind a BEGIN still waiting for
        # the lock (its caller cancelled), it ends the transaction that BEGIN opens.
        assert [tuple(row) for row in rows] == [(1,), (2,)]
        assert trips == ["_run", "_run", "_run", "commit", "rollback"]
    finally:
        await database.dispose()


async def test_rows_counts_and_errors_come_back_as_the_driver_gives_them(database: Database):
    table = Execution.__table__
    async with database.write() as session:
        await session.execute(insert(table), [execution(f"e-{n}") for n in range(5)])
        changed = await session.execute(
            update(table).where(table.c.id.in_(["e-1", "e-2", "absent"])).values(user_id="v")
        )
        returned = await session.execute(
            update(table).where(table.c.id == "e-3").values(user_id="w").returning(table.c.id)
        )
        assert changed.rowcount == 2
        assert returned.all() == [("e-3",)]
    with pytest.raises(IntegrityError):
        async with database.write() as session:
            await session.execute(insert(table), [execution("e-9"), execution("e-0")])
    async with database.read() as session:
        users = dict((await session.execute(select(table.c.id, table.c.user_id))).all())
        count = (await session.execute(select(func.count()).select_from(table))).scalar_one()
    # The failed transaction left nothing behind, and the connection serves the next one.
    assert count == 5
    assert users == {"e-0": "u", "e-1": "v", "e-2": "v", "e-3": "w", "e-4": "u"}
