"""Drive one job to its end: run it here, or wait while a worker runs it.

`execlens analyze`, the demo and AutoGPT's POST route all start a job and wait for its
result. A job is durable work that outlives whoever asked for it, so the driver commits
its creation in its own transaction, before anything runs it, as every job step does.
"""

import asyncio
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import configure_mappers

from execlens.config import Settings
from execlens.db.engine import Database
from execlens.jobs import repository
from execlens.jobs.clock import SYSTEM_CLOCK, Clock
from execlens.jobs.mappers import job_out
from execlens.jobs.models import ACTIVE_STATUSES
from execlens.jobs.schemas import JobCreate, JobOut
from execlens.jobs.service import job_service
from execlens.jobs.worker import Worker, WorkerKind
from execlens.judge.judge import Judge
from execlens.judge.providers import import_sdks

# How often a waiting driver reads the job's progress.
PROGRESS_SECONDS = 0.25


@dataclass(frozen=True)
class Submitted:
    """A job that is queued and committed, and who will run it."""

    job: JobOut
    resumed: bool
    # Live service workers: with none, the driver runs the job itself.
    workers: int


class JobDriver:
    """Start a job, then run it in this process unless a worker is up, until it stops."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        judge: Judge,
        *,
        kind: WorkerKind,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.db = database
        self.settings = settings
        self.judge = judge
        self.kind = kind
        self.clock = clock

    async def submit(
        self,
        params: JobCreate,
        *,
        created_by: str,
        acting_as: str | None = None,
        resume_same: bool = False,
    ) -> Submitted:
        """Queue the job (or resume its unfinished twin) and commit; count live workers."""
        await self._prepare(params.model_name)
        async with self.db.write() as session:
            job, resumed = await job_service.create(
                session,
                self.settings,
                params,
                created_by=created_by,
                acting_as=acting_as,
                resume_same=resume_same,
            )
            since = self.clock.now() - timedelta(seconds=self.settings.job_lease_seconds)
            workers = await repository.live_service_workers(session, since)
            return Submitted(job_out(job), resumed, workers)

    async def submit_evaluation(
        self, params: JobCreate, execution_ids: Sequence[str], *, created_by: str
    ) -> Submitted:
        """Queue a candidate judge's evaluation job over the given runs and commit."""
        await self._prepare(params.model_name)
        async with self.db.write() as session:
            job = await job_service.create_evaluation(
                session, self.settings, params, execution_ids, created_by=created_by
            )
            since = self.clock.now() - timedelta(seconds=self.settings.job_lease_seconds)
            workers = await repository.live_service_workers(session, since)
            return Submitted(job_out(job), False, workers)

    async def _prepare(self, model: str | None) -> None:
        """Load the SDKs and, when this process will run the job, build its model's client.

        Both happen before the job exists, so its first call starts as soon as it is
        claimed: the client takes a few hundred ms (prices, TLS contexts, a local probe).
        So does the ORM's set-up, which the first object a process builds (the job
        itself) would otherwise pay for: 15-170 ms.
        """
        await _load_sdks()
        configure_mappers()
        since = self.clock.now() - timedelta(seconds=self.settings.job_lease_seconds)
        async with self.db.read() as session:
            workers = await repository.live_service_workers(session, since)
        if not workers:
            await self.judge.ready(model)

    async def wait(
        self,
        submitted: Submitted,
        *,
        actor: str,
        interrupted: asyncio.Event | None = None,
        on_progress: Callable[[JobOut], None] | None = None,
    ) -> JobOut:
        """Run the job here unless a worker is up; return it once it stops.

        ``interrupted`` cancels the job as ``actor``. If the wait itself is cancelled
        (a client went away), the job stays queued and a worker finishes it.
        """
        job_id = submitted.job.id
        interrupted = interrupted or asyncio.Event()
        runner: asyncio.Task[str] | None = None
        if not submitted.workers:
            # Built beside the first claim, not after it.
            self.judge.warm(submitted.job.model)
            worker = Worker(self.db, self.settings, self.judge, kind=self.kind, clock=self.clock)
            runner = asyncio.create_task(worker.run_job(job_id))
        try:
            await self._watch(job_id, runner, interrupted, on_progress)
            if interrupted.is_set():
                async with self.db.write() as session:
                    await job_service.cancel(session, job_id, actor=actor)
            if runner is not None:
                await runner
        finally:
            if runner is not None and not runner.done():
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
        async with self.db.read() as session:
            return job_out(await job_service.get(session, job_id))

    async def _watch(
        self,
        job_id: str,
        runner: "asyncio.Task[str] | None",
        interrupted: asyncio.Event,
        on_progress: Callable[[JobOut], None] | None,
    ) -> None:
        """Report progress until the job stops, the runner ends or ``interrupted`` is set."""
        stop = asyncio.create_task(interrupted.wait())
        try:
            if runner is not None and on_progress is None:
                # The job runs here and nobody is shown its progress: the runner's end is
                # all there is to wait for, with no read of the job every PROGRESS_SECONDS
                # (nor one beside its first claim).
                await asyncio.wait([stop, runner], return_when="FIRST_COMPLETED")
                return
            while not interrupted.is_set():
                async with self.db.read() as session:
                    job = job_out(await job_service.get(session, job_id))
                if on_progress is not None:
                    on_progress(job)
                if job.status not in ACTIVE_STATUSES or (runner is not None and runner.done()):
                    return
                waiters = [stop, *([runner] if runner is not None else [])]
                await asyncio.wait(waiters, timeout=PROGRESS_SECONDS, return_when="FIRST_COMPLETED")
        finally:
            stop.cancel()


async def _load_sdks() -> None:
    """Load the provider SDKs (about a second) before a job exists, not after.

    In a thread, so a server answers other requests meanwhile; a job created only after
    they load starts its first call without waiting for them.
    """
    await asyncio.to_thread(import_sdks)


@asynccontextmanager
async def sigint_interrupts() -> AsyncIterator[asyncio.Event]:
    """Yield an event that Ctrl-C sets instead of raising KeyboardInterrupt."""
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    with suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, interrupted.set)
    try:
        yield interrupted
    finally:
        with suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGINT)
