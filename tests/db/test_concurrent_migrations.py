"""Several execlens processes starting at once on an empty database migrate it once."""

import asyncio
import os
import sys

from sqlalchemy import inspect

from execlens.config import Settings
from execlens.db.base import Base
from execlens.db.engine import Database
from execlens.db.migrate import current_revision, head_revision
from tests.conftest import empty_postgres

STARTERS = 4
# Far shorter than a migration: a SQLite starter that waited for another's migration on
# the database's own lock, rather than on the migration lock, would fail after it. The
# default 10 s fails the same way once a migration takes longer.
BUSY_TIMEOUT_MS = "20"


async def execlens(settings: Settings, *args: str) -> tuple[int, str]:
    """Run `execlens ARGS` in its own process; return its exit code and output."""
    env = os.environ | {
        "EXECLENS_DATABASE_URL": settings.resolved_database_url,
        "EXECLENS_DATA_DIR": str(settings.data_dir),
        "EXECLENS_SQLITE_BUSY_TIMEOUT_MS": BUSY_TIMEOUT_MS,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "execlens",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, output.decode(errors="replace")


async def table_names(database: Database) -> set[str]:
    async with database.reader.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


async def test_processes_upgrading_an_empty_database_at_once_all_succeed(
    dialect: str, settings: Settings
):
    if dialect == "postgresql":
        await empty_postgres(settings.resolved_database_url)
    results = await asyncio.gather(*(execlens(settings, "db", "upgrade") for _ in range(STARTERS)))
    for code, output in results:
        assert code == 0, output
        assert f"database at revision {head_revision()}" in output
    database = Database.from_settings(settings)
    try:
        assert await current_revision(database) == head_revision()
        assert set(Base.metadata.tables) <= await table_names(database)
    finally:
        await database.dispose()
