"""A real execlens server on 127.0.0.1 with the demo dataset and the fake LLM, and Chromium."""

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from execlens.app import create_app
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.demo.generator import generate_records
from execlens.executions.importer import import_lines
from execlens.trends.monitor import Monitor
from tests.conftest import JWT_SECRET
from tests.fake_llm import FakeLLM
from tests.local_server import ThreadedServer, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass
class LiveServer:
    base_url: str
    settings: Settings


async def _load_demo(settings: Settings) -> None:
    """Import the demo dataset and let the monitor store its alerts, as `execlens demo` does."""
    import json

    database = Database.from_settings(settings)
    try:
        await upgrade(database)
        lines = (json.dumps(record) for record in generate_records(days=45, seed=7))
        await import_lines(database, lines)
        await Monitor(database, settings).check_once()
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Serve the dashboard from a uvicorn thread, judging with the fake LLM (SQLite)."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (scripts/test.sh does)")
    fake = FakeLLM().start()
    root = tmp_path_factory.mktemp("dashboard")
    port = free_port()
    settings = Settings(
        data_dir=root,
        database_url=f"sqlite+aiosqlite:///{root / 'execlens.db'}",
        jwt_secret=JWT_SECRET,
        openai_api_key=SecretStr("sk-fake"),
        openai_base_url=fake.base_url,
        local_model_enabled=False,
        judge_model="gpt-4.1-mini",
        judge_timeout_seconds=5.0,
        job_poll_seconds=0.1,
        port=port,
    )
    asyncio.run(_load_demo(settings))
    server = ThreadedServer(create_app(settings), port=port, lifespan="on")
    server.start(seconds=30)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings)
    finally:
        server.stop(seconds=15)
        fake.stop()
