"""Assembly in worker processes beside the server (EXECLENS_OTLP_ASSEMBLY_PROCESSES)."""

import multiprocessing
import os
import signal
import time
from pathlib import Path

import httpx2

from execlens.app import create_app
from execlens.config import Settings
from execlens.db.engine import Database
from tests.local_server import ThreadedServer, serve_process, spawned_children
from tests.otlp.conftest import (
    PROTOBUF,
    create_key,
    encode,
    record_spans,
    trace_id_of,
    wait_for_execution,
    weather_agent,
)

ASSEMBLERS = "execlens otlp assembly"


def _assemblers() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name.startswith(ASSEMBLERS)]


async def test_worker_processes_assemble_traces_and_stop_with_the_server(
    otlp_settings: Settings, database: Database, admin_headers
):
    settings = otlp_settings.model_copy(update={"otlp_assembly_processes": 2})
    key = await create_key(database)
    spans = record_spans(weather_agent)
    server = ThreadedServer(create_app(settings, worker=False), lifespan="on")
    server.start(seconds=30)
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert len(_assemblers()) == 2
        async with httpx2.AsyncClient(base_url=base) as client:
            response = await client.post(
                "/v1/traces", content=encode(spans), headers=PROTOBUF | {"X-API-Key": key}
            )
        assert response.status_code == 200
        execution = await wait_for_execution(base, admin_headers, trace_id_of(spans))
        assert execution["graph_id"] == "weather"
        assert len(execution["node_executions"]) == 3
    finally:
        server.stop(seconds=15)
    assert _assemblers() == []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_worker_processes_exit_when_the_server_is_killed(settings: Settings, tmp_path):
    env = os.environ | {
        "EXECLENS_DATABASE_URL": settings.resolved_database_url,
        "EXECLENS_DATA_DIR": str(tmp_path / "data"),
        "EXECLENS_JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "EXECLENS_SERVE_WORKER": "false",
        "EXECLENS_LOCAL_MODEL_ENABLED": "false",
        "EXECLENS_OTLP_ASSEMBLY_PROCESSES": "2",
    }
    with serve_process(env) as (_, process):
        deadline = time.monotonic() + 30
        while len(children := spawned_children(process.pid)) < 2:
            assert time.monotonic() < deadline, "the assembly processes did not start"
            time.sleep(0.1)
        # No chance to clean up: the processes must notice on their own.
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        deadline = time.monotonic() + 15
        while any(_alive(child) for child in children):
            assert time.monotonic() < deadline, "assembly processes outlived the server"
            time.sleep(0.1)
