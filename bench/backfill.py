"""Measure backfill throughput against the upstream algorithm, and the job's peak memory.

Usage: .venv/bin/python bench/backfill.py [--executions 2000] [--concurrency 32]
       [--latency 0.25] [--baseline-executions 500] [--memory 10000 100000]
       [--dialect sqlite|postgresql] [--overhead 1000]
       .venv/bin/python bench/backfill.py --rate-limited [--dialect postgresql]  (see
       bench/backfill_ratelimit.py: a provider enforcing its rate limit)

One process, one fake OpenAI-compatible server that answers every call after a fixed
latency. execlens judges the executions as a job with `--concurrency` calls in flight;
the baseline is AutoGPT's algorithm on the same judge and database: load every matching
execution, judge batches of 25 with asyncio.gather, sleep 2 s between batches.
Goals: execlens at least 0.9 of the ideal bound (concurrency ÷ latency) and 10 times the
baseline.

`--overhead N` adds the "Overhead" table (bench/overhead.py): CPU ms per run and the
ratio to the bound, before (the base commit, `--overhead-base`, in a temporary git
worktree) and after.

Peak memory runs in fresh subprocesses: each selects all N executions into a job and
judges for `--memory-seconds`, so the whole selection is in the measured window.
"""

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import overhead
from pydantic import SecretStr
from sqlalchemy import select, text

from execlens.config import Settings
from execlens.db.base import Base
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.executions.models import FINISHED_STATUSES, Execution
from execlens.executions.schemas import ExecutionIn, GraphIn
from execlens.executions.service import execution_service
from execlens.jobs import repository
from execlens.jobs.models import JobStatus
from execlens.jobs.schemas import JobCreate
from execlens.jobs.service import job_service
from execlens.jobs.worker import Worker
from execlens.judge.judge import Judge, JudgeRequest
from execlens.judge.providers import import_sdks
from execlens.judge.service import judge_service

MODEL = "gpt-4.1-mini"
UPSTREAM_BATCH = 25
UPSTREAM_SLEEP = 2.0
POSTGRES_URL = os.environ.get(
    "EXECLENS_BENCH_POSTGRES_URL",
    "postgresql+asyncpg://execlens:execlens@127.0.0.1:5432/execlens_bench",
)
VERDICT = json.dumps({"summary": "The agent wrote the post it was asked for.", "score": 0.9})


RESPONSE_BODY = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": VERDICT},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940},
    }
).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    + f"content-length: {len(RESPONSE_BODY)}\r\n\r\n".encode()
    + RESPONSE_BODY
)


async def serve_fake(port: int, latency: float, first_file: str | None = None) -> None:
    """Answer every chat completion after ``latency`` seconds, with minimal HTTP/1.1.

    ``first_file`` gets the wall-clock time the first request arrived.

    A bare asyncio server rather than uvicorn: with h11, uvicorn spent several ms of CPU
    per request and capped this benchmark near 110 calls/s, below the bound it measures.
    """

    noted: list[float] = []

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if first_file and not noted:
                    noted.append(time.time())
                    Path(first_file).write_text(repr(noted[0]))  # noqa: ASYNC240  once, tiny
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                await asyncio.sleep(latency)
                writer.write(RESPONSE)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


class FakeOpenAI:
    """The fake provider in its own process, like a remote API: it costs execlens no CPU."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._process: subprocess.Popen | None = None
        self._first = Path(tempfile.mkdtemp()) / "first-request"

    def first_request_at(self) -> float | None:
        """Return when the first request arrived (time.time()), or None before it."""
        return float(self._first.read_text()) if self._first.exists() else None

    def __enter__(self) -> "FakeOpenAI":
        command = [sys.executable, __file__, "--serve-fake", str(self.port)]
        command += ["--first-request-file", str(self._first)]
        self._process = subprocess.Popen([*command, "--latency", str(self.latency)])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("the fake provider did not start")

    def __exit__(self, *exc_info) -> None:
        assert self._process is not None
        self._process.terminate()
        self._process.wait(timeout=10)
        shutil.rmtree(self._first.parent, ignore_errors=True)


def bench_settings(url: str, data_dir: Path, llm: FakeOpenAI) -> Settings:
    return Settings(
        database_url=url,
        data_dir=data_dir,
        openai_api_key=SecretStr("sk-bench"),
        openai_base_url=f"http://127.0.0.1:{llm.port}/v1",
        local_model_enabled=False,
        judge_model=MODEL,
    )


def graph(graph_id: str) -> GraphIn:
    nodes = [
        {"id": "write", "block_id": "b1", "block_name": "AITextGeneratorBlock"},
        {"id": "out", "block_id": "b2", "block_name": "AgentOutputBlock"},
    ]
    return GraphIn.model_validate(
        {"id": graph_id, "version": 1, "name": f"Writer {graph_id}", "nodes": nodes, "links": []}
    )


def execution(graph_id: str, n: int) -> ExecutionIn:
    created = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n * 13)).isoformat()
    eid = f"{graph_id}-{n:07d}"
    return ExecutionIn.model_validate(
        {
            "id": eid,
            "graph_id": graph_id,
            "graph_version": 1,
            "user_id": f"user-{n % 50}",
            "status": "COMPLETED",
            "created_at": created,
            "node_executions": [
                {
                    "id": f"{eid}-w",
                    "node_id": "write",
                    "block_name": "AITextGeneratorBlock",
                    "status": "COMPLETED",
                    "input": {"prompt": f"Write post {n} about bees " + "lorem ipsum " * 20},
                    "output": {"response": f"Post {n}: bees " + "dolor sit amet " * 30},
                },
                {
                    "id": f"{eid}-o",
                    "node_id": "out",
                    "block_name": "AgentOutputBlock",
                    "status": "COMPLETED",
                    "input": {"name": "post", "value": f"Post {n}"},
                    "output": {"output": f"Post {n}"},
                },
            ],
        }
    )


async def load(database: Database, graph_id: str, count: int) -> None:
    """Store a graph and ``count`` finished executions of it."""
    async with database.write() as session:
        await execution_service.upsert_graph(session, database.dialect, graph(graph_id))
    for start in range(0, count, 1000):
        batch = [execution(graph_id, n) for n in range(start, min(count, start + 1000))]
        async with database.write() as session:
            await execution_service.ingest(session, database.dialect, graphs=[], executions=batch)


async def reset(database: Database) -> None:
    if database.dialect == "postgresql":
        async with database.write() as session:
            await session.execute(text("DROP SCHEMA public CASCADE"))
            await session.execute(text("CREATE SCHEMA public"))
    await upgrade(database)
    async with database.write() as session:
        tables = [t.name for t in Base.metadata.sorted_tables]
        if database.dialect == "postgresql":
            await session.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))


async def run_execlens(database: Database, settings: Settings, graph_id: str, concurrency: int):
    """Judge every execution of ``graph_id`` as one job; return (judged, seconds)."""
    params = JobCreate(graph_id=graph_id, model_name=MODEL, concurrency=concurrency)
    async with database.write() as session:
        job, _ = await job_service.create(session, settings, params, created_by="bench")
    judge = Judge(settings)
    import_sdks()  # a running worker has them loaded already
    started = time.perf_counter()
    try:
        status = await Worker(database, settings, judge, kind="cli").run_job(job.id)
    finally:
        elapsed = time.perf_counter() - started
        await judge.aclose()
    async with database.read() as session:
        done = await job_service.get(session, job.id)
    assert status == JobStatus.COMPLETED, done.reason
    return done.succeeded, elapsed


async def run_worker_processes(
    database: Database, settings: Settings, graph_id: str, concurrency: int, processes: int
):
    """Judge every execution of ``graph_id`` with `execlens worker` processes sharing the job."""
    env = os.environ | {
        "EXECLENS_DATABASE_URL": settings.resolved_database_url,
        "EXECLENS_DATA_DIR": str(settings.data_dir),
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": settings.openai_base_url or "",
        "EXECLENS_LOCAL_MODEL_ENABLED": "false",
        "EXECLENS_JOB_POLL_SECONDS": "0.05",
    }
    command = [sys.executable, "-m", "execlens", "worker"]
    workers = [
        await asyncio.create_subprocess_exec(*command, env=env, stderr=subprocess.DEVNULL)
        for _ in range(processes)
    ]
    try:
        # Start the clock once every worker is up and polling, as in a running deployment.
        while True:
            async with database.read() as session:
                up = await repository.live_service_workers(
                    session, datetime.now(UTC) - timedelta(seconds=30)
                )
            if up >= processes:
                break
            await asyncio.sleep(0.1)
        params = JobCreate(graph_id=graph_id, model_name=MODEL, concurrency=concurrency)
        async with database.write() as session:
            job, _ = await job_service.create(session, settings, params, created_by="bench")
        started = time.perf_counter()
        while True:
            async with database.read() as session:
                state = await job_service.get(session, job.id)
            if state.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
                break
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            await asyncio.wait_for(worker.wait(), 30)
    assert state.status == JobStatus.COMPLETED, state.reason
    return state.succeeded, elapsed


async def run_upstream(database: Database, settings: Settings, graph_id: str):
    """AutoGPT's algorithm: everything in memory, batches of 25, 2 s between batches."""
    judge = Judge(settings)
    request = JudgeRequest(model=MODEL)
    started = time.perf_counter()
    try:
        async with database.read() as session:
            stmt = select(Execution.id).where(
                Execution.graph_id == graph_id, Execution.status.in_(FINISHED_STATUSES)
            )
            ids = list((await session.execute(stmt)).scalars())
        batches = [ids[i : i + UPSTREAM_BATCH] for i in range(0, len(ids), UPSTREAM_BATCH)]
        for number, batch in enumerate(batches):
            await asyncio.gather(
                *(judge_service.judge_and_store(database, judge, i, request) for i in batch)
            )
            if number < len(batches) - 1:
                await asyncio.sleep(UPSTREAM_SLEEP)
    finally:
        elapsed = time.perf_counter() - started
        await judge.aclose()
    return len(ids), elapsed


async def throughput(args: argparse.Namespace, url: str, data_dir: Path) -> None:
    with FakeOpenAI(args.latency) as llm:
        settings = bench_settings(url, data_dir, llm)
        database = Database(url, settings=settings)
        try:
            await reset(database)
            await load(database, "g-execlens", args.executions)
            if args.workers:
                await load(database, "g-workers", args.executions)
            await load(database, "g-upstream", args.baseline_executions)
            judged, seconds = await run_execlens(database, settings, "g-execlens", args.concurrency)
            rows = [("execlens job, this process", judged, seconds)]
            if args.workers:
                w_judged, w_seconds = await run_worker_processes(
                    database, settings, "g-workers", args.concurrency, args.workers
                )
                rows.append((f"execlens job, {args.workers} worker processes", w_judged, w_seconds))
            base_n, base_seconds = await run_upstream(database, settings, "g-upstream")
            base = base_n / base_seconds
        finally:
            await database.dispose()
    ideal = args.concurrency / args.latency
    print(
        f"\nbackfill on {args.dialect}: fake LLM latency {args.latency * 1000:.0f} ms, "
        f"execlens concurrency {args.concurrency}"
    )
    print(f"{'run':<34}{'executions':>11}{'seconds':>9}{'per second':>12}")
    for label, count, elapsed in rows:
        print(f"{label:<34}{count:>11,}{elapsed:>9.1f}{count / elapsed:>12.1f}")
    print(f"{'upstream (25/batch, 2 s sleep)':<34}{base_n:>11,}{base_seconds:>9.1f}{base:>12.1f}")
    print(f"{'ideal bound (concurrency/latency)':<34}{'':>11}{'':>9}{ideal:>12.1f}")
    for label, count, elapsed in rows:
        rate = count / elapsed
        print(
            f"{label}: ÷ ideal = {rate / ideal:.2f} (goal ≥ 0.9: "
            f"{verdict(rate / ideal >= 0.9)}), ÷ upstream = {rate / base:.1f} "
            f"(goal ≥ 10: {verdict(rate / base >= 10)})"
        )


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


async def memory_child(args: argparse.Namespace, url: str, data_dir: Path) -> None:
    """In a fresh process: select all executions into a job, judge for a while, report."""
    with FakeOpenAI(args.latency) as llm:
        settings = bench_settings(url, data_dir, llm)
        database = Database(url, settings=settings)
        params = JobCreate(graph_id="g-memory", model_name=MODEL, concurrency=args.concurrency)
        async with database.write() as session:
            job, _ = await job_service.create(session, settings, params, created_by="b")
        judge = Judge(settings)
        runner = asyncio.create_task(Worker(database, settings, judge, kind="cli").run_job(job.id))
        selected_at = None
        while True:
            await asyncio.sleep(0.2)
            async with database.read() as session:
                state = await job_service.get(session, job.id)
            if state.selection_done and selected_at is None:
                selected_at = time.perf_counter()
            if selected_at and time.perf_counter() - selected_at >= args.memory_seconds:
                break
        async with database.write() as session:
            await job_service.cancel(session, job.id, actor="bench")
        await runner
        await judge.aclose()
        async with database.read() as session:
            state = await job_service.get(session, job.id)
        await database.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"selected": state.selected, "judged": state.succeeded, "peak_mib": peak}))


async def prepare_memory(url: str, data_dir: Path, count: int) -> None:
    settings = Settings(database_url=url, data_dir=data_dir, local_model_enabled=False)
    database = Database(url, settings=settings)
    try:
        await reset(database)
        await load(database, "g-memory", count)
    finally:
        await database.dispose()


def memory(args: argparse.Namespace, url_for) -> None:
    print(f"\npeak memory of a job process ({args.memory_seconds:.0f} s of judging after it")
    print("selected every execution; data loaded beforehand by another process)")
    print(f"{'executions':>11}{'selected':>10}{'judged':>8}{'peak MiB':>10}")
    peaks = []
    for count in args.memory:
        url, data_dir = url_for(f"mem{count}")
        asyncio.run(prepare_memory(url, data_dir, count))
        child = [sys.executable, __file__, "--child", url, "--data-dir", str(data_dir)]
        child += ["--latency", str(args.latency), "--concurrency", str(args.concurrency)]
        child += ["--memory-seconds", str(args.memory_seconds)]
        output = subprocess.run(child, capture_output=True, text=True, check=True).stdout
        result = json.loads(output.strip().splitlines()[-1])
        peaks.append(result["peak_mib"])
        print(
            f"{count:>11,}{result['selected']:>10,}{result['judged']:>8,}"
            f"{result['peak_mib']:>10.0f}"
        )
    if len(peaks) > 1:
        ratio = peaks[-1] / peaks[0]
        print(
            f"largest ÷ smallest peak = {ratio:.2f}  (goal: flat, ≤ 1.2: {verdict(ratio <= 1.2)})"
        )


def main() -> None:
    # Here, not at the top: that module imports this one's helpers.
    import backfill_ratelimit

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--baseline-executions", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--workers", type=int, default=0, help="also run the job on N `execlens worker` processes"
    )
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--memory", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--memory-seconds", type=float, default=15.0)
    parser.add_argument("--dialect", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--overhead", type=int, default=0, help="runs for the Overhead table (0: skip it)"
    )
    parser.add_argument(
        "--overhead-base",
        default=overhead.BASE_COMMIT,
        help=(
            f'the commit of the Overhead table\'s "before" rows (default {overhead.BASE_COMMIT}), '
            "or a directory holding its execlens package"
        ),
    )
    parser.add_argument(
        "--overhead-repeat",
        type=int,
        default=1,
        help="measure each Overhead row this many times, before and after in turn; print medians",
    )
    parser.add_argument("--overhead-child", help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--serve-fake", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--first-request-file", help=argparse.SUPPRESS)
    parser.add_argument(
        "--rate-limited", action="store_true", help="only the Rate-limited table (see its file)"
    )
    backfill_ratelimit.add_arguments(parser)
    args = parser.parse_args()
    if args.serve_fake:
        asyncio.run(serve_fake(args.serve_fake, args.latency, args.first_request_file))
        return
    if args.child:
        asyncio.run(memory_child(args, args.child, Path(args.data_dir)))
        return
    if args.overhead_child:
        overhead.child(args.overhead_child, args.executions, args.concurrency, args.latency)
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.rate_limited:
            backfill_ratelimit.run(args, tmp)
            return

        def url_for(name: str) -> tuple[str, Path]:
            if args.dialect == "postgresql":
                return POSTGRES_URL, Path(tmp)
            return f"sqlite+aiosqlite:///{tmp}/{name}.db", Path(tmp)

        if args.executions:
            url, data_dir = url_for("throughput")
            asyncio.run(throughput(args, url, data_dir))
        if args.memory:
            memory(args, url_for)
    if args.overhead:
        overhead.overhead(
            args.overhead, args.concurrency, args.latency, args.overhead_base, args.overhead_repeat
        )


if __name__ == "__main__":
    main()
