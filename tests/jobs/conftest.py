"""Fixtures for analytics jobs: a stored agent with runs, a fake LLM, a running worker."""

import asyncio
import json
import os
import re
import sqlite3
import sys
import time
import traceback
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from sqlalchemy import func, select

from execlens.app import create_app
from execlens.auth.service import issue_token
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.executions.schemas import ExecutionIn, GraphIn
from execlens.executions.service import execution_service
from execlens.jobs.clock import SYSTEM_CLOCK, Clock
from execlens.jobs.models import AnalyticsJob, JobStatus
from execlens.jobs.schemas import JobCreate
from execlens.jobs.service import job_service
from execlens.jobs.worker import Worker
from execlens.judge.judge import Judge
from execlens.judge.models import VerdictRecord
from tests.conftest import JWT_SECRET
from tests.factories import make_execution, make_graph
from tests.fake_llm import FakeLLM, Reply, answer
from tests.judge.conftest import fake_llm, judge_settings  # noqa: F401  (fixtures)

RUN_ID = re.compile(r"run-\d{3}")


def run(n: int, **overrides) -> dict:
    """A completed blog-writer run whose digest names its own id, so the fake LLM can tell."""
    execution_id = f"run-{n:03d}"
    created = overrides.pop("created_at", f"2026-11-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z")
    execution = make_execution(execution_id, created_at=created, nodes=0, **overrides)
    execution["node_executions"] = [
        {
            "id": f"{execution_id}-out",
            "node_id": "out",
            "block_name": "AgentOutputBlock",
            "status": "COMPLETED",
            "input": {"name": "post", "value": f"A post written for {execution_id}."},
            "output": {"output": f"A post written for {execution_id}."},
            "queued_at": created,
        }
    ]
    return execution


def run_id_of(body: dict) -> str:
    """Return the run a chat request is about."""
    match = RUN_ID.search(json.dumps(body["messages"]))
    assert match, "the prompt names no run"
    return match.group(0)


async def store(database: Database, executions: list[dict]) -> None:
    async with database.write() as session:
        await execution_service.ingest(
            session,
            database.dialect,
            graphs=[GraphIn.model_validate(make_graph())],
            executions=[ExecutionIn.model_validate(e) for e in executions],
        )


async def verdict_counts(database: Database) -> dict[str, int]:
    """Return how many verdicts each execution has."""
    stmt = select(VerdictRecord.execution_id, func.count()).group_by(VerdictRecord.execution_id)
    async with database.read() as session:
        return {row[0]: row[1] for row in await session.execute(stmt)}


async def create_job(database: Database, settings: Settings, **params) -> str:
    async with database.write() as session:
        job, _ = await job_service.create(
            session, settings, JobCreate(graph_id="g-blog", **params), created_by="test"
        )
    return job.id


async def job_row(database: Database, job_id: str) -> AnalyticsJob:
    async with database.read() as session:
        return await job_service.get(session, job_id)


async def wait_for(
    database: Database, job_id: str, check: Callable[[AnalyticsJob], bool], seconds: float = 30
) -> AnalyticsJob:
    """Poll the job until ``check`` holds."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        job = await job_row(database, job_id)
        if check(job):
            return job
        assert asyncio.get_running_loop().time() < deadline, f"job stuck: {job.status}"
        await asyncio.sleep(0.05)


async def until(check: Callable[[], bool], seconds: float = 30) -> None:
    """Wait until ``check()`` holds."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def database_env(settings: Settings) -> dict[str, str]:
    return {
        "EXECLENS_DATABASE_URL": settings.resolved_database_url,
        "EXECLENS_DATA_DIR": str(settings.data_dir),
    }


async def spawn(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    """Start `execlens ARGS` in its own process."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "execlens",
        *args,
        env=os.environ | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def finished(job: AnalyticsJob) -> bool:
    return job.status not in (JobStatus.QUEUED, JobStatus.RUNNING)


@pytest.fixture
def jobs_settings(judge_settings: Settings) -> Settings:  # noqa: F811
    return judge_settings.model_copy(update={"job_poll_seconds": 0.05, "job_lease_seconds": 5})


@pytest.fixture
async def judge(jobs_settings: Settings) -> AsyncIterator[Judge]:
    judge = Judge(jobs_settings)
    yield judge
    await judge.aclose()


class FastClock:
    """Job time that runs ``speed`` times faster than real time, so waits are short."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.real_start = time.monotonic()
        self.wall_start = datetime.now(UTC)

    def job_time(self, real: float) -> float:
        """Return the job time of a ``time.monotonic()`` reading."""
        return (real - self.real_start) * self.speed

    def monotonic(self) -> float:
        return self.job_time(time.monotonic())

    def now(self) -> datetime:
        return self.wall_start + timedelta(seconds=self.monotonic())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speed)


@asynccontextmanager
async def running_worker(
    database: Database, settings: Settings, judge: Judge, clock: Clock = SYSTEM_CLOCK
) -> AsyncIterator[Worker]:
    """Run a service worker in the background while the block runs."""
    stop = asyncio.Event()
    worker = Worker(database, settings, judge, clock=clock)
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        # Stopping may wait out one SQLite lock wait (busy_timeout, 10 s) and no more.
        done, _ = await asyncio.wait([task], timeout=settings.sqlite_busy_timeout_ms / 1000 + 10)
        if not done:
            pytest.fail(f"the worker did not stop; its tasks:\n{_task_stacks(database)}")
        task.result()


def _task_stacks(database: Database) -> str:
    """Return where each task and thread waits, the writer pool and SQLite's write lock."""
    lines = [f"writer pool: {database.writer.pool.status()}", _sqlite_write_lock(database)]
    for pending in asyncio.all_tasks():
        lines.append(f"task {pending.get_name()}: {_await_chain(pending.get_coro())}")
    for thread_id, frame in sys._current_frames().items():
        stack = traceback.extract_stack(frame, limit=6)
        where = " -> ".join(f"{f.name}:{f.lineno}" for f in stack)
        lines.append(f"thread {thread_id}: {where}")
    return "\n".join(lines)


def _sqlite_write_lock(database: Database) -> str:
    """Return whether another connection could take SQLite's write lock right now."""
    if database.dialect != "sqlite":
        return "write lock: not SQLite"
    probe = sqlite3.connect(database.url.split("///", 1)[1], timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return "write lock: free"
    except sqlite3.OperationalError as exc:
        return f"write lock: {exc}"
    finally:
        probe.close()


def _await_chain(coro: object) -> str:
    """Return the frames a suspended coroutine waits through, outermost first."""
    steps = []
    while coro is not None and len(steps) < 40:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if frame is None:
            steps.append(type(coro).__name__)
            break
        steps.append(
            f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_code.co_name}:{frame.f_lineno}"
        )
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
    return " -> ".join(steps)


@pytest.fixture
async def worker(
    database: Database, jobs_settings: Settings, judge: Judge
) -> AsyncIterator[Worker]:
    """A service worker running in the background for the test."""
    async with running_worker(database, jobs_settings, judge) as worker:
        yield worker


__all__ = ["FakeLLM", "Reply", "answer"]


@pytest.fixture
async def api(database: Database, jobs_settings: Settings) -> AsyncIterator[httpx2.AsyncClient]:
    """An admin HTTP client for an app configured with the fake LLM (no background worker)."""
    app = create_app(jobs_settings, database=database, migrate=False, worker=False)
    headers = {"Authorization": f"Bearer {issue_token(JWT_SECRET)}"}
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(
        transport=transport, base_url="http://execlens.test", headers=headers, timeout=60
    ) as client:
        yield client
    if getattr(app.state, "judge", None) is not None:
        await app.state.judge.aclose()
