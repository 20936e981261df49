"""PostgreSQL stopped and started during a job: the worker waits and nothing is lost."""

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.jobs.models import JobStatus
from tests.jobs.conftest import (
    Reply,
    answer,
    create_job,
    finished,
    run,
    spawn,
    store,
    verdict_counts,
    wait_for,
)
from tests.jobs.test_cli import llm_env
from tests.local_server import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class Cluster:
    """A throwaway PostgreSQL cluster owned by the postgres user, on its own port."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="execlens-pg-", dir="/tmp"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres(
            PG_BIN / "initdb", "-D", self.dir / "data", "-A", "trust", "-U", "postgres"
        )

    def _as_postgres(self, *args) -> None:
        command = ["runuser", "-u", "postgres", "--", *map(str, args)]
        subprocess.run(command, check=True, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._as_postgres(
            PG_BIN / "pg_ctl",
            "-D",
            self.dir / "data",
            "-o",
            options,
            "-l",
            self.dir / "log",
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.dir / "data", "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.dir / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if os.geteuid() != 0 or not (PG_BIN / "initdb").exists():
        pytest.skip("needs root and PostgreSQL 15's binaries, as on the CI machines")
    cluster = Cluster()
    cluster.start()
    yield cluster
    cluster.remove()


@pytest.fixture
async def own_database(cluster: Cluster, jobs_settings) -> AsyncIterator[Database]:
    settings = jobs_settings.model_copy(update={"database_url": cluster.url})
    database = Database(cluster.url, settings=settings)
    await upgrade(database)
    yield database
    await database.dispose()


# The test brings its own cluster: run it once, as the PostgreSQL case.
@pytest.mark.parametrize("dialect", ["postgresql"])
async def test_a_job_survives_postgres_going_down(cluster, own_database, jobs_settings, fake_llm):
    database = own_database
    settings = jobs_settings.model_copy(update={"database_url": cluster.url})
    await store(database, [run(n) for n in range(1, 31)])
    fake_llm.default = Reply(answer().content, delay=0.2)
    job_id = await create_job(database, settings, concurrency=4)
    env = llm_env(fake_llm) | {
        "EXECLENS_DATABASE_URL": cluster.url,
        "EXECLENS_DATA_DIR": str(settings.data_dir),
        "EXECLENS_JOB_LEASE_SECONDS": "3",
    }
    worker = await spawn("worker", env=env)
    try:
        # A worker process starting on a loaded machine can take half a minute.
        await wait_for(database, job_id, lambda j: j.succeeded >= 5, seconds=120)
        await database.dispose()
        cluster.stop()
        await asyncio.sleep(3)
        assert worker.returncode is None, "the worker died with the database"
        cluster.start()
        job = await wait_for(database, job_id, finished, seconds=90)
    finally:
        worker.send_signal(signal.SIGTERM)
        await asyncio.wait_for(worker.wait(), 30)

    assert job.status == JobStatus.COMPLETED
    assert (job.succeeded, job.failed) == (30, 0)
    assert await verdict_counts(database) == {f"run-{n:03d}": 1 for n in range(1, 31)}
