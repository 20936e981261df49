"""Apply Alembic migrations to a database, from inside a running event loop."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from execlens.db.dialect import lock_migrations, migration_lock
from execlens.db.engine import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """Return an Alembic config that runs on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


async def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the database schema up to ``revision``; concurrent callers take turns."""

    def run(connection: Connection) -> None:
        # Alembic reads the current revision after the lock is held, so a process that
        # waited for another's migration finds the schema at head and does nothing.
        lock_migrations(database.dialect, connection)
        command.upgrade(alembic_config(connection), revision)

    async with (
        migration_lock(database.dialect, database.url),
        database.writer.begin() as connection,
    ):
        await connection.run_sync(run)


async def current_revision(database: Database) -> str | None:
    """Return the revision the database is at, or None when it is empty."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with database.reader.connect() as connection:
        return await connection.run_sync(read)


def head_revision() -> str | None:
    """Return the newest revision shipped with this version of execlens."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
