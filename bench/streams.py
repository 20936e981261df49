"""Measure read latency while job pages and CSV downloads are open, against an idle server.

Usage: .venv/bin/python bench/streams.py [--dialects sqlite postgresql] [--requests 300]
       [--streams 50] [--downloads 5]

Starts `execlens serve` in its own process on a database holding one agent with 1,000
runs and a running analytics job over them (about 2 MB of CSV). Times `GET /api/graphs`
one request at a time on the idle server, then again with `--streams` job event streams
(what an open job page holds) and `--downloads` CSV exports whose clients stopped
reading, all open at once. Prints p50 and p95 of both, side by side, the ratio of the
p95s, how many streams and downloads were open, and how many requests failed. The bound
is met when the loaded p95 is at most BOUND times the idle one, every stream and download
was open and no request failed.
"""

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path

import httpx2
from sqlalchemy import text, update

from execlens.auth.service import issue_token
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.executions.schemas import ExecutionIn, GraphIn
from execlens.executions.service import execution_service
from execlens.jobs.models import AnalyticsJob, JobItem, JobStatus
from execlens.jobs.schemas import JobCreate
from execlens.jobs.service import job_service

POSTGRES_URL = os.environ.get(
    "EXECLENS_BENCH_POSTGRES_URL",
    "postgresql+asyncpg://execlens:execlens@127.0.0.1:5432/execlens_bench",
)
SECRET = "bench-secret-0123456789-abcdefghijklmnop"
RUNS = 1_000
SUMMARY = "The agent wrote the post. " * 80
BOUND = 5.0
GRAPH = {"id": "g-bench", "version": 1, "name": "Bench writer", "nodes": [], "links": []}


def execution(n: int) -> ExecutionIn:
    created = f"2026-11-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z"
    return ExecutionIn.model_validate(
        {
            "id": f"run-{n:05d}",
            "graph_id": "g-bench",
            "graph_version": 1,
            "user_id": "u-1",
            "status": "COMPLETED",
            "created_at": created,
            "node_executions": [],
        }
    )


async def prepare(url: str, settings: Settings) -> str:
    """Load an empty database with the runs and a running job; return the job's id."""
    database = Database(url, settings=settings)
    try:
        if database.dialect == "postgresql":
            async with database.write() as session:
                await session.execute(text("DROP SCHEMA public CASCADE"))
                await session.execute(text("CREATE SCHEMA public"))
        await upgrade(database)
        async with database.write() as session:
            await execution_service.ingest(
                session,
                database.dialect,
                graphs=[GraphIn.model_validate(GRAPH)],
                executions=[execution(n) for n in range(RUNS)],
            )
        async with database.write() as session:
            job, _ = await job_service.create(
                session, settings, JobCreate(graph_id="g-bench"), created_by="bench"
            )
        async with database.write() as session:
            await session.execute(update(JobItem).values(summary=SUMMARY))
            await session.execute(update(AnalyticsJob).values(status=JobStatus.RUNNING))
        return job.id
    finally:
        await database.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, data_dir: Path, port: int) -> subprocess.Popen:
    """Run `execlens serve` in its own process; return once it answers."""
    env = os.environ | {
        "EXECLENS_DATABASE_URL": url,
        "EXECLENS_DATA_DIR": str(data_dir),
        "EXECLENS_JWT_SECRET": SECRET,
        "EXECLENS_SERVE_WORKER": "false",
        "EXECLENS_LOCAL_MODEL_ENABLED": "false",
        "EXECLENS_RATE_LIMIT_PER_MINUTE": "0",
    }
    command = [sys.executable, "-m", "execlens", "serve", "--port", str(port)]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with suppress(httpx2.TransportError):
            if httpx2.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return process
        time.sleep(0.1)
    process.kill()
    raise SystemExit("execlens serve did not start")


async def timings(client: httpx2.AsyncClient, count: int) -> tuple[list[float], int]:
    """Time ``count`` sequential reads; return their milliseconds and how many failed."""
    millis, failed = [], 0
    for _ in range(count):
        start = time.perf_counter()
        try:
            response = await client.get("/api/graphs")
            failed += response.status_code != 200
        except httpx2.TransportError:
            failed += 1
        millis.append((time.perf_counter() - start) * 1000)
    return millis, failed


async def follow(client: httpx2.AsyncClient, path: str, started: asyncio.Event) -> None:
    """Keep a job's event stream open, setting ``started`` at its first event."""
    async with client.stream("GET", path) as response:
        if response.status_code != 200:
            return
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                started.set()


async def slow_download(port: int, path: str) -> tuple[bool, asyncio.StreamWriter]:
    """Request ``path`` and stop reading after the status line, like a stalled client."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
    token = issue_token(SECRET)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )
    return (await reader.readline()).startswith(b"HTTP/1.1 200"), writer


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


async def measure(args: argparse.Namespace, port: int, job_id: str) -> dict:
    """Time reads on the idle server, then with the streams and downloads open."""
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {issue_token(SECRET)}"}
    limits = httpx2.Limits(max_connections=args.streams + 10)
    async with httpx2.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=30
    ) as client:
        await timings(client, 20)
        idle, idle_failed = await timings(client, args.requests)
        started = [asyncio.Event() for _ in range(args.streams)]
        events = f"/api/analytics/jobs/{job_id}/events"
        streams = [asyncio.create_task(follow(client, events, event)) for event in started]
        csv = f"/api/analytics/jobs/{job_id}/results?format=csv"
        downloads = await asyncio.gather(*(slow_download(port, csv) for _ in range(args.downloads)))
        with suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(event.wait() for event in started)), 30)
        loaded, loaded_failed = await timings(client, args.requests)
        for task in streams:
            task.cancel()
        for _, writer in downloads:
            writer.close()
    return {
        "idle": idle,
        "loaded": loaded,
        "failed": idle_failed + loaded_failed,
        "streams": sum(event.is_set() for event in started),
        "downloads": sum(ok for ok, _ in downloads),
    }


def bench(args: argparse.Namespace, dialect: str, root: Path) -> dict:
    url = POSTGRES_URL if dialect == "postgresql" else f"sqlite+aiosqlite:///{root / 'bench.db'}"
    settings = Settings(database_url=url, data_dir=root, jwt_secret=SECRET)
    job_id = asyncio.run(prepare(url, settings))
    port = free_port()
    server = start_server(url, root, port)
    try:
        return asyncio.run(measure(args, port, job_id))
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialects", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--downloads", type=int, default=5)
    args = parser.parse_args()
    print(
        f"GET /api/graphs, {args.requests} sequential requests; loaded: {args.streams} event "
        f"streams and {args.downloads} stalled CSV downloads open; bound: loaded p95 at "
        f"most {BOUND:g} times idle p95\n"
    )
    print(
        "| database | idle p50 | idle p95 | loaded p50 | loaded p95 | p95 ratio | bound "
        "| streams open | downloads open | failed |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for dialect in args.dialects:
        with tempfile.TemporaryDirectory(prefix="execlens-bench-") as tmp:
            result = bench(args, dialect, Path(tmp))
        idle95, loaded95 = percentile(result["idle"], 95), percentile(result["loaded"], 95)
        ratio = loaded95 / idle95
        all_open = result["streams"] == args.streams and result["downloads"] == args.downloads
        met = "met" if ratio <= BOUND and result["failed"] == 0 and all_open else "missed"
        name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[dialect]
        print(
            f"| {name} | {statistics.median(result['idle']):.1f} ms | {idle95:.1f} ms "
            f"| {statistics.median(result['loaded']):.1f} ms | {loaded95:.1f} ms "
            f"| {ratio:.2f} | {met} | {result['streams']} of {args.streams} "
            f"| {result['downloads']} of {args.downloads} | {result['failed']} |"
        )


if __name__ == "__main__":
    main()
