"""`execlens sync autogpt` as a real process: kill -9 mid-sync, and --follow."""

import asyncio
import os
import signal
import sys

from sqlalchemy import func, select

from execlens.db.engine import Database
from execlens.executions.models import Execution, NodeExecution
from tests.autogpt.autogpt_db import AutoGPTDatabase, now
from tests.autogpt.conftest import autogpt_url


def _env(settings) -> dict[str, str]:
    return os.environ | {
        "EXECLENS_DATABASE_URL": settings.resolved_database_url,
        "EXECLENS_DATA_DIR": str(settings.data_dir),
        "EXECLENS_AUTOGPT_DATABASE_URL": autogpt_url(),
    }


async def _sync(settings, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "execlens",
        "sync",
        "autogpt",
        *args,
        env=_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _counts(database: Database) -> tuple[int, int]:
    async with database.read() as session:
        runs = await session.scalar(select(func.count()).select_from(Execution))
        nodes = await session.scalar(select(func.count()).select_from(NodeExecution))
    return runs or 0, nodes or 0


async def _wait_for(database: Database, done, seconds: float = 60) -> tuple[int, int]:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        counts = await _counts(database)
        if done(counts):
            return counts
        assert asyncio.get_running_loop().time() < deadline, f"still {counts}"
        await asyncio.sleep(0.02)


async def test_kill_9_mid_sync_then_sync_again_loses_and_doubles_nothing(
    autogpt: AutoGPTDatabase, database: Database, settings
):
    graph = await autogpt.graph()
    total = 3000
    await autogpt.many_runs(graph, total, steps=5)

    first = await _sync(settings, "--once", "--batch-size", "10")
    await _wait_for(database, lambda c: c[0] >= 50)
    first.kill()  # SIGKILL: no cleanup, a batch may be half written
    await first.wait()
    runs_at_kill, _ = await _counts(database)
    assert runs_at_kill < total, "the sync ended before it was killed: nothing was tested"

    second = await _sync(settings, "--once", "--batch-size", "500")
    _, stderr = await second.communicate()
    assert second.returncode == 0, stderr.decode()

    assert await _counts(database) == (total, total * 5)
    async with database.read() as session:
        per_run = (
            await session.execute(
                select(NodeExecution.execution_id, func.count()).group_by(
                    NodeExecution.execution_id
                )
            )
        ).all()
    assert {count for _, count in per_run} == {5}
    assert len(per_run) == total


async def test_follow_picks_up_runs_that_finish_later(
    autogpt: AutoGPTDatabase, database: Database, settings
):
    graph = await autogpt.graph()
    await autogpt.run(graph, "run-1")
    await autogpt.run(graph, "run-2", status="RUNNING", at=now())

    follower = await _sync(settings, "--follow", "--interval", "1s")
    try:
        await _wait_for(database, lambda c: c[0] == 1)
        await autogpt.finish("run-2")
        await autogpt.run(graph, "run-3")
        await _wait_for(database, lambda c: c[0] == 3, seconds=30)
        assert follower.returncode is None  # still following
    finally:
        follower.kill()
        await follower.wait()


async def test_a_worker_keeps_syncing_when_the_url_is_set(
    autogpt: AutoGPTDatabase, database: Database, settings
):
    graph = await autogpt.graph()
    await autogpt.run(graph, "run-1")
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "execlens",
        "worker",
        env=_env(settings) | {"EXECLENS_AUTOGPT_SYNC_INTERVAL": "1s"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await _wait_for(database, lambda c: c[0] == 1)
        await autogpt.run(graph, "run-2")
        await _wait_for(database, lambda c: c[0] == 2, seconds=30)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.wait(), 20) == 0
