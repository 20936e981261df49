"""A real execlens server on 127.0.0.1 with the demo dataset and the fake LLM, and Chromium."""

import asyncio
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from pydantic import SecretStr

from execlens.api.app import create_app
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.demo.generator import generate_records
from execlens.executions.importer import import_lines
from execlens.trends.monitor import Monitor
from tests.conftest import JWT_SECRET
from tests.fake_llm import FakeLLM

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Serve the dashboard from a uvicorn thread, judging with the fake LLM (SQLite)."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (scripts/test.sh does)")
    fake = FakeLLM().start()
    root = tmp_path_factory.mktemp("dashboard")
    port = _free_port()
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
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the dashboard server did not start"
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        fake.stop()
