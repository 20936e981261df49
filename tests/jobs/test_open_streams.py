"""Open job pages (event streams) and slow CSV downloads never starve the other endpoints."""

import asyncio
import socket
from contextlib import suppress

import httpx2
import pytest
from sqlalchemy import update

from execlens.app import create_app
from execlens.auth.service import issue_token
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.jobs.models import AnalyticsJob, JobItem, JobStatus
from tests.conftest import JWT_SECRET
from tests.jobs.conftest import create_job, run, store, until
from tests.local_server import ThreadedServer

STREAMS = 50
DOWNLOADS = 5
RUNS = 1_000
# About 2 MB of CSV per download: far more than the socket buffers between a client that
# stops reading and the server, so every download stays unfinished during the test.
SUMMARY = "The agent wrote the post. " * 80


@pytest.fixture
async def running_job(database: Database, settings: Settings) -> str:
    """A running job whose results make a large CSV."""
    await store(database, [run(n) for n in range(RUNS)])
    job_id = await create_job(database, settings)
    async with database.write() as session:
        await session.execute(update(JobItem).values(summary=SUMMARY))
        await session.execute(update(AnalyticsJob).values(status=JobStatus.RUNNING))
    return job_id


@pytest.fixture
def server(settings: Settings, database: Database):
    """A real server on 127.0.0.1 with its own connection pools, as `execlens serve` runs."""
    server = ThreadedServer(create_app(settings, worker=False), lifespan="on")
    server.start(seconds=30)
    yield f"http://127.0.0.1:{server.port}"
    server.stop(seconds=10)


async def follow(client: httpx2.AsyncClient, path: str, seen: list[str]) -> None:
    """Read a job's event stream to its end, recording each event's name in ``seen``."""
    async with client.stream("GET", path) as response:
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                seen.append(line.removeprefix("event: "))
                if seen[-1] == "end":
                    return


async def start_slow_download(base_url: str, path: str) -> tuple[bytes, asyncio.StreamWriter]:
    """Request ``path`` on a socket that stops reading after the status line."""
    port = int(base_url.rsplit(":", 1)[1])
    sock = socket.socket()
    # A small receive buffer, and a reader that buffers at most 2 KiB: the server's
    # writes soon block, as they do for a client on a slow link.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {issue_token(JWT_SECRET)}\r\n\r\n"
    )
    writer.write(request.encode())
    return await reader.readline(), writer


async def test_open_event_streams_and_slow_csv_downloads_leave_every_endpoint_answering(
    database: Database, running_job: str, server: str
):
    headers = {"Authorization": f"Bearer {issue_token(JWT_SECRET)}"}
    limits = httpx2.Limits(max_connections=STREAMS + 20)
    async with httpx2.AsyncClient(
        base_url=server, headers=headers, limits=limits, timeout=10
    ) as client:
        seen: list[list[str]] = [[] for _ in range(STREAMS)]
        events = f"/api/analytics/jobs/{running_job}/events"
        streams = [asyncio.create_task(follow(client, events, s)) for s in seen]
        downloads = await asyncio.gather(
            *(
                start_slow_download(server, f"/api/analytics/jobs/{running_job}/results?format=csv")
                for _ in range(DOWNLOADS)
            )
        )
        try:
            assert [status for status, _ in downloads] == [b"HTTP/1.1 200 OK\r\n"] * DOWNLOADS
            with suppress(AssertionError):
                await until(lambda: all(s[:1] == ["progress"] for s in seen), seconds=15)
            started = sum(s[:1] == ["progress"] for s in seen)
            assert started == STREAMS, f"{started} of {STREAMS} streams got their first event"
            for path in (
                "/api/graphs",
                "/api/executions?limit=5",
                "/api/executions/run-007",
                "/api/analytics/jobs",
                f"/api/analytics/jobs/{running_job}",
                f"/api/analytics/jobs/{running_job}/results?limit=5",
                "/api/audit",
            ):
                response = await client.get(path)
                assert response.status_code == 200, (path, response.text)
            # The streams still poll the job, each poll in a short session of its own.
            async with database.write() as session:
                await session.execute(update(AnalyticsJob).values(status=JobStatus.COMPLETED))
            await asyncio.wait_for(asyncio.gather(*streams), 15)
            assert all(s[-1] == "end" for s in seen)
        finally:
            for task in streams:
                task.cancel()
            for _, writer in downloads:
                writer.close()
                with suppress(OSError):
                    await writer.wait_closed()
