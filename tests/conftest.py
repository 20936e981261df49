"""Shared fixtures: a real database per dialect, the app, and admin credentials."""

import asyncio
import os
from collections.abc import AsyncIterator

import httpx2
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from execlens.app import create_app
from execlens.auth.service import issue_token
from execlens.config import Settings
from execlens.db.base import Base
from execlens.db.engine import Database
from execlens.db.migrate import upgrade

POSTGRES_URL = os.environ.get(
    "EXECLENS_TEST_POSTGRES_URL",
    "postgresql+asyncpg://execlens:execlens@127.0.0.1:5432/execlens_test",
)
JWT_SECRET = "test-secret-0123456789-abcdefghijklmnop"
# A model server someone runs on this machine's usual ports must not change what a test
# sees: tests that want one start their own and point these at it.
os.environ.setdefault("EXECLENS_OLLAMA_URL", "")
os.environ.setdefault("EXECLENS_LOCAL_OPENAI_URL", "")


async def empty_postgres(url: str = POSTGRES_URL) -> None:
    """Drop every table of a PostgreSQL database: an empty public schema."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """Return the test PostgreSQL URL, starting each run from an empty schema."""
    try:
        asyncio.run(empty_postgres())
    except OSError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc}); "
            "start it with `bash scripts/test.sh`, which sets it up"
        )
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def dialect(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    return request.param


@pytest.fixture
def database_url(dialect: str, tmp_path, request: pytest.FixtureRequest) -> str:
    if dialect == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'execlens.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def settings(tmp_path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, jwt_secret=JWT_SECRET)


@pytest.fixture
async def database(settings: Settings, dialect: str) -> AsyncIterator[Database]:
    """A migrated, empty database."""
    db = Database(settings.resolved_database_url, settings=settings)
    await upgrade(db)
    if dialect == "postgresql":
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with db.write() as session:
            await session.execute(text(f"TRUNCATE {tables} CASCADE"))
    yield db
    await db.dispose()


@pytest.fixture
def app(settings: Settings, database: Database) -> FastAPI:
    """The app, on the test database."""
    return create_app(settings, database=database, migrate=False)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx2.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://execlens.test") as c:
        yield c


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(JWT_SECRET)}"}


@pytest.fixture
def cli(settings: Settings):
    """Run `execlens ...` in-process against the test database, off the event loop."""
    from typer.testing import CliRunner

    from execlens.cli import app as cli_app

    env = {
        "EXECLENS_DATABASE_URL": settings.resolved_database_url,
        "EXECLENS_DATA_DIR": str(settings.data_dir),
        "EXECLENS_JWT_SECRET": JWT_SECRET,
    }

    async def run(*args: str, input: str | None = None, extra_env: dict | None = None):
        runner = CliRunner()
        return await asyncio.to_thread(
            runner.invoke, cli_app, list(args), input=input, env=env | (extra_env or {})
        )

    return run
