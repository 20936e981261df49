"""Several `serve`/`worker` processes on one execlens database: one syncs at a time."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from execlens.autogpt.background import follow_leased
from execlens.autogpt.service import AutoGPTSync, LeaseLost
from execlens.autogpt.write_back import AutoGPTWriteBack
from execlens.db.engine import Database
from execlens.executions.models import Execution
from execlens.judge.service import judge_service
from execlens.source_url import parse_source_url
from tests.autogpt.autogpt_db import AutoGPTDatabase
from tests.autogpt.conftest import autogpt_url
from tests.autogpt.test_write_back import _verdict


def _sync(database: Database, owner: str, lease: timedelta = timedelta(minutes=1)) -> AutoGPTSync:
    return AutoGPTSync(
        parse_source_url(autogpt_url()),
        database,
        lookback=timedelta(hours=1),
        batch_size=5,
        lease_owner=owner,
        lease=lease,
    )


async def _run_count(database: Database) -> int:
    async with database.read() as session:
        return await session.scalar(select(func.count()).select_from(Execution)) or 0


@pytest.fixture
async def other_database(settings) -> Database:
    # A second engine and pool: as far as the database can tell, another machine.
    db = Database(settings.resolved_database_url, settings=settings)
    yield db
    await db.dispose()


async def test_only_the_lease_holder_syncs_and_another_takes_over_when_it_stops(
    autogpt: AutoGPTDatabase, database: Database, other_database: Database
):
    graph = await autogpt.graph()
    for n in range(10):
        await autogpt.run(graph, f"run-{n}")
    first, second = _sync(database, "first"), _sync(other_database, "second")
    reads = {"first": 0, "second": 0}
    claims = {"first": 0, "second": 0}
    for sync in (first, second):
        original, original_claim = sync.sync_once, sync.claim

        async def counted(*args, _sync=sync, _original=original, **kwargs):
            report = await _original(*args, **kwargs)
            reads[_sync.lease_owner] += report.read
            return report

        async def counted_claim(_sync=sync, _original=original_claim):
            claims[_sync.lease_owner] += 1
            return await _original()

        sync.sync_once = counted
        sync.claim = counted_claim
    tasks = [asyncio.create_task(follow_leased(s, timedelta(seconds=0.1))) for s in (first, second)]
    try:
        await _poll(lambda: _runs_stored(database, 10))
        await autogpt.run(graph, "run-10")
        # Five more passes of each process, not a fixed time: the one without the lease
        # gets as many chances to sync wrongly however slow the machine is.
        wanted = {owner: count + 5 for owner, count in claims.items()}
        await _poll(lambda: all(claims[owner] >= count for owner, count in wanted.items()))
        assert await _run_count(database) == 11
        assert sorted(reads.values())[0] == 0  # one of the two never synced

        holder = first if reads["first"] else second
        other = second if holder is first else first
        idle_tasks = tasks[1] if holder is first else tasks[0]
        (tasks[0] if holder is first else tasks[1]).cancel()
        await holder.release()
        await autogpt.run(graph, "run-11")
        await _poll(lambda: _runs_stored(database, 12))
        assert await _run_count(database) == 12
        assert reads[other.lease_owner] > 0
        assert not idle_tasks.done()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await first.close()
        await second.close()


async def test_a_holder_whose_lease_expired_writes_nothing_once_another_took_over(
    autogpt: AutoGPTDatabase, database: Database, other_database: Database
):
    graph = await autogpt.graph()
    for n in range(3):
        await autogpt.run(graph, f"run-{n}")
    # "slow" stalled past its lease (a long GC pause, a frozen VM) without dying.
    slow = _sync(database, "slow", lease=timedelta(seconds=-1))
    fast = _sync(other_database, "fast")
    try:
        assert await slow.claim()
        assert await fast.claim()
        assert not await slow.claim()

        with pytest.raises(LeaseLost):
            await slow.sync_once()
        assert await _run_count(database) == 0

        await fast.sync_once()
        assert await _run_count(database) == 3
    finally:
        await slow.close()
        await fast.close()


async def test_a_pass_still_writing_when_its_process_released_the_lease_does_not_take_it_back(
    autogpt: AutoGPTDatabase, database: Database, other_database: Database
):
    graph = await autogpt.graph()
    for n in range(12):
        await autogpt.run(graph, f"run-{n}")
    # A stopping process releases the lease while batches it read are still being written.
    stopping = _sync(database, "stopping")
    taking_over = _sync(other_database, "taking-over")
    try:
        assert await stopping.claim()
        await stopping.release()

        with pytest.raises(LeaseLost):
            await stopping.sync_once()
        assert await _run_count(database) == 0

        # The lease stayed free: another process takes over at once, not a lease later.
        assert await taking_over.claim()
        assert (await taking_over.sync_once()).runs == 12
    finally:
        await stopping.close()
        await taking_over.close()


async def _runs_stored(database: Database, count: int) -> bool:
    return await _run_count(database) == count


async def _poll(check: Callable[[], bool | Awaitable[bool]]) -> None:
    """Check every 50 ms, for at most 30 s (a loaded CI machine), until ``check()`` holds."""
    for _ in range(600):
        held = check()
        if not isinstance(held, bool):
            held = await held
        if held:
            return
        await asyncio.sleep(0.05)


async def test_two_processes_write_each_verdict_back_once(
    autogpt: AutoGPTDatabase, database: Database, other_database: Database
):
    graph = await autogpt.graph()
    for n in range(6):
        await autogpt.run(graph, f"run-{n}", stats={"cost": n})
    source = parse_source_url(autogpt_url())
    syncs = [_sync(database, "first"), _sync(other_database, "second")]
    writers = [AutoGPTWriteBack(source, db, batch_size=2) for db in (database, other_database)]
    written = {"first": 0, "second": 0}
    for sync, writer in zip(syncs, writers, strict=True):
        original = writer.write_once

        async def counted(_owner=sync.lease_owner, _original=original):
            report = await _original()
            written[_owner] += report.written
            return report

        writer.write_once = counted
    interval = timedelta(seconds=0.1)
    tasks = [
        asyncio.create_task(follow_leased(s, interval, w))
        for s, w in zip(syncs, writers, strict=True)
    ]
    try:
        await _poll(lambda: _runs_stored(database, 6))
        async with database.write() as session:
            await judge_service.store(
                session, [_verdict(f"run-{n}", f"Run {n} did it", n / 10) for n in range(6)]
            )
        await _poll(lambda: sum(written.values()) == 6)
        await asyncio.sleep(0.5)  # a few more passes of both processes
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sync, writer in zip(syncs, writers, strict=True):
            await sync.close()
            await writer.close()

    assert sorted(written.values()) == [0, 6]
    rows = await autogpt.db.fetch('SELECT id, stats FROM "AgentGraphExecution" ORDER BY id')
    for n, row in enumerate(rows):
        assert json.loads(row["stats"]) == {
            "cost": n,
            "activity_status": f"Run {n} did it",
            "correctness_score": n / 10,
        }
