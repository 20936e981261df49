"""`execlens serve --processes N`: real processes sharing one port, on PostgreSQL."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
from contextlib import suppress
from pathlib import Path

import httpx2
import pytest

from execlens.config import Settings
from execlens.db.engine import Database
from tests.conftest import JWT_SECRET
from tests.local_server import serve_process, spawned_children
from tests.otlp.conftest import (
    PROTOBUF,
    create_key,
    encode,
    record_spans,
    trace_id_of,
    wait_for_execution,
    weather_agent,
)

EXECLENS = [sys.executable, "-m", "execlens"]


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXECLENS_")}
    return env | {
        "EXECLENS_DATABASE_URL": settings.resolved_database_url,
        "EXECLENS_DATA_DIR": str(settings.data_dir),
        "EXECLENS_JWT_SECRET": JWT_SECRET,
        "EXECLENS_LOCAL_MODEL_ENABLED": "false",
        "EXECLENS_RATE_LIMIT_PER_MINUTE": "0",
        "EXECLENS_OTLP_GRACE_SECONDS": "0.3",
        "EXECLENS_OTLP_ASSEMBLY_POLL_SECONDS": "0.5",
    }


def _sockets(port: int, state: str) -> set[str]:
    """Return the inodes of TCP sockets on local ``port`` in ``state`` (/proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        # local address "0100007F:1F90"; state "01" established, "0A" listening; inode
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            found.add(fields[9])
    return found


def _connections(pid: int, port: int) -> int:
    """Return how many TCP connections to ``port`` the process ``pid`` holds open."""
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with suppress(OSError):  # closed meanwhile
            held.add(os.readlink(fd))
    return sum(f"socket:[{inode}]" in held for inode in _sockets(port, "01"))


def _listening(port: int) -> int:
    """Return how many sockets listen on ``port``."""
    return len(_sockets(port, "0A"))


def _gone(pids: list[int]) -> bool:
    return not any(Path(f"/proc/{pid}").exists() for pid in pids)


@pytest.mark.parametrize("dialect", ["postgresql"])
async def test_processes_share_the_port_finish_traces_and_stop_together(
    database: Database, settings: Settings, admin_headers: dict[str, str]
) -> None:
    key = await create_key(database)
    spans = record_spans(weather_agent)
    body = encode(spans)
    with serve_process(_env(settings), "--processes", "2") as (base, server):
        workers = spawned_children(server.pid)
        assert len(workers) == 2
        # Each process listens on its own socket, once all have started.
        port = int(base.rsplit(":", 1)[1])
        for _ in range(50):
            if await asyncio.to_thread(_listening, port) == 2:
                break
            await asyncio.sleep(0.1)
        assert await asyncio.to_thread(_listening, port) == 2
        # Twenty exporters, each with its connection kept open: the kernel shares them out
        # between the two processes (all to one: a chance of 2 in a million).
        headers = PROTOBUF | {"X-API-Key": key}
        exporters = [httpx2.AsyncClient(base_url=base, headers=headers) for _ in range(20)]
        for exporter in exporters:
            response = await exporter.post("/v1/traces", content=body)
            assert response.status_code == 200, response.text
        held = [await asyncio.to_thread(_connections, pid, port) for pid in workers]
        assert sum(held) == 20 and min(held) >= 1, held
        for exporter in exporters:
            await exporter.aclose()
        run = await wait_for_execution(base, admin_headers, trace_id_of(spans))
        assert run["status"] == "COMPLETED" and run["graph_id"] == "weather"
        assert len(run["node_executions"]) == 3
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) == 0
        assert await asyncio.to_thread(_gone, workers)


@pytest.mark.parametrize("dialect", ["postgresql"])
async def test_when_one_process_dies_the_server_stops_and_says_which(
    database: Database, settings: Settings
) -> None:
    with serve_process(_env(settings), "--processes", "2") as (_, server):
        workers = spawned_children(server.pid)
        os.kill(workers[1], signal.SIGKILL)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 1
    assert (
        output.strip()
        .splitlines()[-1]
        .endswith("execlens serve 2/2 stopped (exit code -9); stopped the others")
    )
    assert await asyncio.to_thread(_gone, workers)


def test_several_processes_need_postgresql(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXECLENS_")}
    env["EXECLENS_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run(
        [*EXECLENS, "serve", "--processes", "2"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: 2 server processes need PostgreSQL (EXECLENS_DATABASE_URL): SQLite takes one "
        "writer at a time; run one process, or move to PostgreSQL"
    )
    assert not (tmp_path / "data" / "execlens.db").exists()


@pytest.mark.parametrize("dialect", ["postgresql"])
def test_several_processes_refuse_a_port_in_use(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*EXECLENS, "serve", "--processes", "2", "--port", str(port)],
            env=_env(settings),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
