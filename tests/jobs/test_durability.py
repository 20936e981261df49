"""Durability: a worker killed mid-job loses nothing; two workers never share an item."""

import asyncio
import signal
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from execlens.db.engine import Database
from execlens.jobs import repository
from execlens.jobs.clock import SystemClock
from execlens.jobs.models import ItemStatus, JobItem, JobStatus
from execlens.jobs.recorder import Outcome, Recorder
from execlens.jobs.worker import Worker
from execlens.judge.judge import Judge
from tests.jobs.conftest import (
    Reply,
    answer,
    create_job,
    database_env,
    finished,
    job_row,
    run,
    run_id_of,
    spawn,
    store,
    verdict_counts,
    wait_for,
)
from tests.jobs.test_cli import llm_env

LEASE = timedelta(seconds=2)


async def items_of(database: Database, job_id: str) -> list[JobItem]:
    async with database.read() as session:
        stmt = select(JobItem).where(JobItem.job_id == job_id)
        return list((await session.execute(stmt)).scalars())


async def _until_only_fresh_running(database: Database, job_id: str, seconds: float = 30) -> None:
    """Return once items run and none of them was running when called: all just claimed."""

    async def running() -> set[int]:
        return {i.id for i in await items_of(database, job_id) if i.status == ItemStatus.RUNNING}

    deadline = asyncio.get_running_loop().time() + seconds
    before = await running()
    while not (now := await running()) or now & before:
        assert asyncio.get_running_loop().time() < deadline, "no fresh claim ran alone"
        await asyncio.sleep(0.005)


async def test_a_worker_killed_mid_job_loses_nothing(database, jobs_settings, fake_llm):
    await store(database, [run(n) for n in range(1, 41)])
    fake_llm.default = Reply(answer().content, delay=0.3)
    job_id = await create_job(database, jobs_settings, concurrency=4)
    env = llm_env(fake_llm) | database_env(jobs_settings) | {"EXECLENS_JOB_LEASE_SECONDS": "2"}

    first = await spawn("worker", env=env)
    await wait_for(database, job_id, lambda j: j.succeeded >= 8)
    # Calls of equal delay finish together: between their commit and the next claim's,
    # none is in flight. Kill early in a fresh claim's calls, once the calls before it
    # are recorded.
    await _until_only_fresh_running(database, job_id)
    first.kill()  # SIGKILL: no cleanup, leases left behind
    await first.wait()

    job = await job_row(database, job_id)
    assert job.status == JobStatus.RUNNING
    assert job.succeeded < 40
    abandoned = [i for i in await items_of(database, job_id) if i.status == ItemStatus.RUNNING]
    assert 0 < len(abandoned) <= 4

    second = await spawn("worker", env=env)
    job = await wait_for(database, job_id, finished, seconds=60)
    second.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(second.wait(), 20) == 0

    assert job.status == JobStatus.COMPLETED
    assert (job.succeeded, job.failed, job.skipped) == (40, 0, 0)
    assert await verdict_counts(database) == {f"run-{n:03d}": 1 for n in range(1, 41)}
    items = await items_of(database, job_id)
    assert {i.status for i in items} == {ItemStatus.SUCCESS}
    # Only the calls in flight at the kill were made again.
    repeated = Counter(run_id_of(r.body) for r in fake_llm.received)
    assert {k for k, v in repeated.items() if v > 1} <= {i.execution_id for i in abandoned}
    assert len(fake_llm.received) <= 40 + len(abandoned)
    assert sum(i.attempts for i in items) == 40 + len(abandoned)


async def test_two_workers_never_judge_the_same_execution(database, jobs_settings, fake_llm):
    await store(database, [run(n) for n in range(1, 61)])
    fake_llm.default = Reply(answer().content, delay=0.05)
    job_id = await create_job(database, jobs_settings, concurrency=8)
    # A second engine and pool: as far as the database can tell, another machine.
    other = Database(jobs_settings.resolved_database_url, settings=jobs_settings)
    judges = [Judge(jobs_settings), Judge(jobs_settings)]
    workers = [
        Worker(database, jobs_settings, judges[0]),
        Worker(other, jobs_settings, judges[1]),
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    try:
        job = await wait_for(database, job_id, finished, seconds=60)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for judge in judges:
            await judge.aclose()
        await other.dispose()

    assert job.status == JobStatus.COMPLETED
    asked = Counter(run_id_of(r.body) for r in fake_llm.received)
    assert len(asked) == 60
    assert set(asked.values()) == {1}
    items = await items_of(database, job_id)
    assert {i.attempts for i in items} == {1}
    assert {i.judged_by for i in items} == {w.id for w in workers}
    assert await verdict_counts(database) == {f"run-{n:03d}": 1 for n in range(1, 61)}


async def test_a_run_taken_again_by_its_own_worker_is_counted_once(database, jobs_settings):
    # A worker whose heartbeat lagged past its lease (a loaded machine) may claim the same
    # run again while the first call is still in flight; both answers can then finish in
    # the same commit.
    await store(database, [run(1)])
    job_id = await create_job(database, jobs_settings)
    clock = SystemClock()
    async with database.write() as session:
        row = {"job_id": job_id, "execution_id": "run-001", "status": "pending", "attempts": 0}
        await repository.insert_items(session, [row])
    async with database.write() as session:
        [(item_id, _)] = await repository.claim_items(
            session, job_id=job_id, worker_id="w", count=1, now=clock.now(), lease=LEASE
        )
        later = clock.now() + 2 * LEASE
        again = await repository.claim_items(
            session, job_id=job_id, worker_id="w", count=1, now=later, lease=LEASE
        )
    assert [i for i, _ in again] == [item_id]
    recorder = Recorder(database, clock, worker_id="w", job_id=job_id)

    await asyncio.gather(
        recorder.record(item_id, Outcome(ItemStatus.SKIPPED)),
        recorder.record(item_id, Outcome(ItemStatus.SKIPPED)),
    )

    job = await job_row(database, job_id)
    assert (job.done_count, job.skipped) == (1, 1)
