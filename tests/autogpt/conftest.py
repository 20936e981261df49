"""AutoGPT's database for sync tests: its tables in a `platform` schema of the test PostgreSQL."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from execlens.autogpt.service import AutoGPTSync
from execlens.db.engine import Database
from execlens.source_url import parse_source_url
from tests.autogpt.autogpt_db import AutoGPTDatabase, create_schema, dsn
from tests.conftest import POSTGRES_URL

SCHEMA = "platform"


def autogpt_url(schema: str = SCHEMA) -> str:
    """Return the test database in AutoGPT's own DATABASE_URL form."""
    return f"{dsn(POSTGRES_URL)}?schema={schema}"


@pytest.fixture(scope="module")
def autogpt_schema() -> str:
    """Create AutoGPT's tables afresh for each test module; return the URL AutoGPT uses."""
    asyncio.run(create_schema(POSTGRES_URL, SCHEMA))
    return autogpt_url()


@pytest.fixture
async def autogpt(autogpt_schema: str) -> AsyncIterator[AutoGPTDatabase]:
    """AutoGPT's tables, empty but for the blocks and one user."""
    connection = await asyncpg.connect(dsn(POSTGRES_URL), server_settings={"search_path": SCHEMA})
    source = AutoGPTDatabase(connection)
    await source.reset()
    yield source
    await connection.close()


@pytest.fixture
async def syncer(autogpt: AutoGPTDatabase, database: Database) -> AsyncIterator[AutoGPTSync]:
    """A sync from the test AutoGPT database into the test execlens database."""
    sync = AutoGPTSync(
        parse_source_url(autogpt_url()), database, lookback=timedelta(hours=1), batch_size=7
    )
    await sync.check()
    yield sync
    await sync.close()
