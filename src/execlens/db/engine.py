"""Engine factory: one place for everything that differs between SQLite and PostgreSQL."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Literal, assert_never

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from execlens.config import Settings
from execlens.db.sqlite_driver import one_trip_dbapi

Dialect = Literal["sqlite", "postgresql"]


# The database holds what agents received and produced: only its owner may read it.
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) readable by its owner only; leave an existing one as is."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def _make_private_sqlite_file(url: str) -> None:
    """Create the SQLite file 0600 before SQLite opens it, or tighten an existing one.

    SQLite gives its -wal and -shm files the database file's mode, so they follow.
    """
    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    if not path.parent.is_dir():
        return  # SQLite will say that the directory is missing
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        # A file made before execlens set modes (0644): tighten it if it is ours.
        stat = path.stat()
        if stat.st_mode & 0o077 and stat.st_uid == os.getuid():
            path.chmod(PRIVATE_FILE)


def _sqlite_engine(url: str, *, busy_timeout_ms: int, writer: bool) -> AsyncEngine:
    # The writer gets exactly one connection: aiosqlite serialises statements, not
    # transactions, so two writer connections in one process would interleave and
    # fail with "database is locked" under load.
    engine = create_async_engine(
        url,
        pool_size=1 if writer else 4,
        max_overflow=0,
        pool_pre_ping=False,
        module=one_trip_dbapi(),
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if not writer:
            # A write through a read session would hold SQLite's write lock until the
            # session closes, then vanish in its rollback: refuse it at once instead.
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        # A writer takes the write lock up front. A deferred transaction that later
        # upgrades to a write fails at once with SQLITE_BUSY when another process
        # (a worker beside `serve`) holds the lock, ignoring busy_timeout.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    @event.listens_for(engine.sync_engine, "invalidate")
    def _on_invalidate(dbapi_connection, _record, _exception) -> None:  # type: ignore[no-untyped-def]
        # SQLAlchemy drops a connection whose task was cancelled mid-statement (a worker
        # that stops). Closed while a cursor's statement is unfinished, SQLite keeps its
        # transaction, and the write lock, until that cursor is freed: every other writer
        # would wait. End the transaction first.
        with suppress(Exception):
            dbapi_connection.rollback()

    return engine


def _postgres_engine(url: str, *, pool_size: int) -> AsyncEngine:
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


class Database:
    """The engines and session factories of one database."""

    def __init__(self, url: str, *, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        self.url = url
        backend = make_url(url).get_backend_name()
        if backend == "sqlite":
            self.dialect: Dialect = "sqlite"
            _make_private_sqlite_file(url)
            self.reader = _sqlite_engine(
                url, busy_timeout_ms=settings.sqlite_busy_timeout_ms, writer=False
            )
            self.writer = _sqlite_engine(
                url, busy_timeout_ms=settings.sqlite_busy_timeout_ms, writer=True
            )
        elif backend == "postgresql":
            self.dialect = "postgresql"
            self.reader = _postgres_engine(url, pool_size=settings.postgres_pool_size)
            self.writer = self.reader
        else:
            raise ValueError(f"unsupported database backend {backend!r}")
        self._read_sessions = async_sessionmaker(self.reader, expire_on_commit=False)
        self._write_sessions = async_sessionmaker(self.writer, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Database":
        """Build the database the settings point at."""
        url = settings.resolved_database_url
        if make_url(url).get_backend_name() == "sqlite":
            make_private_dir(settings.data_dir)
        return cls(url, settings=settings)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """Yield a session for reads; it never commits."""
        async with self._read_sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """Yield a session that commits when the block succeeds and rolls back otherwise."""
        async with self._write_sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        """Close every pooled connection."""
        match self.dialect:
            case "sqlite":
                await self.reader.dispose()
                await self.writer.dispose()
            case "postgresql":
                await self.reader.dispose()
            case _:
                assert_never(self.dialect)
