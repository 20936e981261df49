"""Workers: run every active job (or one), register themselves and keep their leases alive."""

import asyncio
import logging
import os
import socket
import uuid
from datetime import timedelta
from types import TracebackType
from typing import Literal

from sqlalchemy.exc import DBAPIError

from execlens.config import Settings
from execlens.db.engine import Database
from execlens.jobs import repository
from execlens.jobs.clock import SYSTEM_CLOCK, Clock
from execlens.jobs.models import JobStatus, WorkerRecord
from execlens.jobs.run import JobRun
from execlens.judge.judge import Judge
from execlens.judge.providers import import_sdks

log = logging.getLogger("execlens.jobs")

# "service" for `serve` and `execlens worker`; "cli" for a job run by `analyze` itself;
# "request" for one run by the upstream route.
WorkerKind = Literal["service", "cli", "request"]


class Worker:
    """Runs every active job (or just one) and keeps its leases alive."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        judge: Judge,
        *,
        kind: WorkerKind = "service",
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.db = database
        self.settings = settings
        self.judge = judge
        self.kind = kind
        self.clock = clock
        self.id = f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.started_at = clock.now()
        self._wake = asyncio.Event()
        self._runs: dict[str, asyncio.Task[str]] = {}

    def wake(self) -> None:
        """Look for new jobs now instead of at the next poll."""
        self._wake.set()

    def running(self, job_id: str) -> bool:
        """Return True while this worker runs ``job_id``."""
        task = self._runs.get(job_id)
        return task is not None and not task.done()

    async def run(self, stop: asyncio.Event) -> None:
        """Run active jobs until ``stop`` is set."""
        async with self._alive():
            while not stop.is_set():
                self._start_runs(await self._active_jobs())
                self._wake.clear()
                waiters = [asyncio.create_task(e.wait()) for e in (stop, self._wake)]
                await asyncio.wait(
                    waiters,
                    timeout=self.settings.job_poll_seconds * 2,
                    return_when="FIRST_COMPLETED",
                )
                for waiter in waiters:
                    waiter.cancel()
            for task in self._runs.values():
                task.cancel()
            await asyncio.gather(*self._runs.values(), return_exceptions=True)

    async def _active_jobs(self) -> list[str]:
        """Return the queued and running jobs; none while the database is unreachable."""
        try:
            async with self.db.read() as session:
                return await repository.active_job_ids(session)
        except (DBAPIError, OSError) as exc:
            # The database is down or unreachable: keep polling until it is back.
            log.warning("worker %s cannot read jobs: %s", self.id, type(exc).__name__)
            return []

    def _start_runs(self, active: list[str]) -> None:
        """Start a run for each active job this worker is not running; forget ended ones."""
        for job_id in active:
            if job_id not in self._runs:
                self._runs[job_id] = asyncio.create_task(self._run_job(job_id))
        for job_id, task in list(self._runs.items()):
            if task.done():
                del self._runs[job_id]

    async def run_job(self, job_id: str) -> str:
        """Run one job in this process until it stops; return its final status."""
        async with self._alive():
            return await self._run_job(job_id)

    async def _run_job(self, job_id: str) -> str:
        """Run one job; survive a database outage or a bug in it."""
        run = JobRun(
            self.db, self.settings, self.judge, worker_id=self.id, job_id=job_id, clock=self.clock
        )
        try:
            return await run.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            # A database outage or a bug: log it, keep the worker alive; the job's items
            # stay leased until they expire, and the next poll starts the job again.
            log.exception("job %s stopped unexpectedly; it will be retried", job_id)
            await self.clock.sleep(self.settings.job_poll_seconds * 4)
            return JobStatus.RUNNING

    def _alive(self) -> "Heartbeat":
        """Return the context that registers this worker and renews its leases."""
        import_sdks()
        return Heartbeat(self)


class Heartbeat:
    """Register the worker, renew its leases while it runs, and unregister it."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> None:
        await self.beat()
        self.task = asyncio.create_task(self._loop())

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        try:
            async with self.worker.db.write() as session:
                await repository.release_items(session, worker_id=self.worker.id)
                await repository.remove_worker(session, self.worker.id)
        except Exception:
            log.warning("worker %s could not unregister; its leases will expire", self.worker.id)

    async def _loop(self) -> None:
        """Beat every third of a lease, so a live worker's leases never expire."""
        interval = self.worker.settings.job_lease_seconds / 3
        while True:
            await self.worker.clock.sleep(interval)
            try:
                await self.beat()
            except Exception:
                log.warning("worker %s heartbeat failed; retrying", self.worker.id)

    async def beat(self) -> None:
        """Renew the worker's leases and record that it is alive."""
        worker = self.worker
        now = worker.clock.now()
        async with worker.db.write() as session:
            await repository.renew_leases(
                session, worker.id, now + timedelta(seconds=worker.settings.job_lease_seconds)
            )
            await repository.upsert_worker(
                session,
                WorkerRecord(
                    id=worker.id,
                    kind=worker.kind,
                    hostname=socket.gethostname()[:200],
                    pid=os.getpid(),
                    started_at=worker.started_at,
                    heartbeat_at=now,
                ),
            )
