"""Stopping a worker at any moment: it stops, and the database stays writable."""

import asyncio
import random
from dataclasses import replace

import pytest
from sqlalchemy import text

from execlens.db.engine import Database
from execlens.judge.judge import Judge
from tests.fake_llm import FakeLLM, Reply
from tests.jobs.conftest import answer, create_job, run, running_worker, store


# SQLite only: PostgreSQL ends a dropped connection's transaction on the server side, where
# SQLite keeps it, and the write lock with it, for as long as a statement of it is alive.
@pytest.mark.parametrize("dialect", ["sqlite"])
@pytest.mark.timeout(600)
async def test_a_worker_stopped_at_any_moment_leaves_the_database_writable(
    database: Database, jobs_settings, judge: Judge, fake_llm: FakeLLM
):
    # Stopping cancels the worker's tasks wherever they are, mid-statement included. A
    # hundred stops at random moments, over jobs wide and narrow, with slow and fast
    # answers and some the judge refuses, reach the moments one stop would rarely hit.
    rng = random.Random(7)
    latency = {"seconds": 0.0}

    def reply(body: dict) -> Reply:
        verdict = answer() if rng.random() < 0.9 else answer(score="high")
        return replace(verdict, delay=latency["seconds"])

    fake_llm.policy = reply
    for stop in range(100):
        await store(database, [run(n) for n in range(stop * 10, stop * 10 + 10)])
        latency["seconds"] = rng.choice([0, 0.01, 0.05, 0.2])
        async with running_worker(database, jobs_settings, judge) as worker:
            await create_job(database, jobs_settings, concurrency=rng.choice([1, 4, 32]))
            worker.wake()
            await asyncio.sleep(rng.random() * 0.5)

        # Within the lock wait, or "database is locked": nothing may still hold the lock.
        async with database.write() as session:
            await session.execute(text("SELECT 1"))
        assert database.writer.pool.checkedout() == 0, f"stop {stop} left a connection out"
