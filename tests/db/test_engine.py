"""Storage behaviour that differs by database: pragmas, migrations, timestamps."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from execlens.db.dialect import in_order, one_of
from execlens.db.engine import Database
from execlens.db.migrate import current_revision, head_revision, upgrade
from execlens.executions.models import Execution, ExecutionStatus


async def test_migrations_reach_head_and_are_idempotent(database: Database):
    assert await current_revision(database) == head_revision()
    await upgrade(database)
    assert await current_revision(database) == head_revision()


async def test_timestamps_come_back_as_aware_utc(database: Database):
    created = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    async with database.write() as session:
        session.add(
            Execution(
                id="e",
                graph_id="g",
                graph_version=1,
                user_id="u",
                status=ExecutionStatus.COMPLETED,
                created_at=created,
            )
        )
    async with database.read() as session:
        stored = await session.get(Execution, "e")
    assert stored.created_at == created
    assert stored.created_at.tzinfo is not None
    assert stored.created_at.utcoffset() == timedelta(0)
    assert stored.created_at == datetime(2026, 3, 2, 4, 30, tzinfo=UTC)


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    for engine in (database.reader, database.writer):
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 10_000
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    assert database.writer.pool.size() == 1
    await database.dispose()


async def test_a_write_through_a_sqlite_read_session_is_refused_and_changes_nothing(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    async with database.write() as session:
        await session.execute(text("CREATE TABLE t (n INTEGER)"))
    with pytest.raises(OperationalError, match="readonly"):
        async with database.read() as session:
            await session.execute(text("INSERT INTO t VALUES (1)"))
    async with database.read() as session:
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    async with database.write() as session:  # the write lock is free at once
        await session.execute(text("INSERT INTO t VALUES (2)"))
    await database.dispose()


async def test_a_status_outside_the_enum_is_refused_by_the_database(database: Database):
    with pytest.raises(IntegrityError, match=r"(?i)check|constraint"):
        async with database.write() as session:
            await session.execute(
                text(
                    "INSERT INTO executions (id, graph_id, graph_version, user_id, status, "
                    "created_at) VALUES ('x', 'g', 1, 'u', 'EXPLODED', '2026-01-01')"
                )
            )


async def test_the_data_dir_and_sqlite_files_are_private_to_their_owner(tmp_path):
    from execlens.config import Settings
    from execlens.jwt_secret import resolve_jwt_secret

    settings = Settings(data_dir=tmp_path / "data")
    database = Database.from_settings(settings)
    try:
        await upgrade(database)
        async with database.write() as session:  # the WAL and its index exist while open
            await session.execute(text("CREATE TABLE scratch (x)"))
        data = settings.data_dir
        modes = {p.name: p.stat().st_mode & 0o777 for p in [data, *data.iterdir()]}
    finally:
        await database.dispose()
    assert modes == {
        "data": 0o700,
        "execlens.db": 0o600,
        "execlens.db-wal": 0o600,
        "execlens.db-shm": 0o600,
        "execlens.db.migrate.lock": 0o600,
    }
    resolve_jwt_secret(settings, create=True)
    assert (data / "jwt_secret").stat().st_mode & 0o777 == 0o600


async def test_an_existing_world_readable_database_file_is_tightened(tmp_path):
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.dispose()
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("wanted", [[], ["e-1"], ['it\'s "quoted", \\ ✓', "e-1", "absent"]])
async def test_a_list_of_ids_bound_as_one_parameter_matches_exactly_those_ids(
    database: Database, wanted: list[str]
):
    ids = ["e-1", "e-10", 'it\'s "quoted", \\ ✓', "E-1"]
    created = datetime(2026, 3, 1, tzinfo=UTC)
    async with database.write() as session:
        for execution_id in ids:
            session.add(
                Execution(
                    id=execution_id,
                    graph_id="g",
                    graph_version=1,
                    user_id="u",
                    status=ExecutionStatus.COMPLETED,
                    created_at=created,
                )
            )
    column = Execution.__table__.c.id
    async with database.read() as session:
        found = await session.scalars(
            select(column).where(one_of(database.dialect, column, wanted))
        )
        assert set(found) == set(wanted) & set(ids)


@pytest.mark.parametrize("values", [[], ["b"], ["b", 'it\'s "quoted", \\ ✓', "a", "b"]])
async def test_values_bound_as_one_parameter_come_back_numbered_in_their_order(
    database: Database, values: list[str]
):
    rows = in_order(database.dialect, values)
    async with database.read() as session:
        found = await session.execute(
            select(rows.c.value, rows.c.position).order_by(rows.c.position)
        )
        assert [tuple(row) for row in found] == [(v, n) for n, v in enumerate(values, start=1)]
