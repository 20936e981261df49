"""Run analytics jobs: claim items under a lease, judge them concurrently, record each one.

Every step that matters is one short transaction on the job's row: selecting the next
chunk of executions, claiming items, and recording an item's verdict together with the
job's counters. A worker killed at any moment leaves only leased items behind; their
leases expire and another run judges them again. Nothing else is repeated or lost.
"""

import asyncio
import logging
import math
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.exc import DBAPIError

from execlens.config import Settings
from execlens.db.engine import Database
from execlens.errors import UserError
from execlens.executions.schemas import ExecutionOut, GraphOut
from execlens.jobs import repository
from execlens.jobs.models import (
    ACTIVE_STATUSES,
    AnalyticsJob,
    ItemStatus,
    JobStatus,
    WorkerRecord,
)
from execlens.jobs.service import utcnow
from execlens.judge.ask import JudgeFailed
from execlens.judge.judge import Judge, JudgeRequest
from execlens.judge.providers import import_sdks
from execlens.judge.schemas import Verdict
from execlens.judge.service import judge_service

log = logging.getLogger("execlens.jobs")
SELECTION_CHUNK = 1_000
# A run the provider could not answer (down, overloaded) is tried this many times.
MAX_ATTEMPTS = 3


class JobFailure(Exception):
    """Something every item would hit: the job stops with this reason."""


Ready = tuple[int, tuple[ExecutionOut, GraphOut | None] | None]


@dataclass
class Claim:
    items: list[tuple[int, str]] = field(default_factory=list)
    status: str = JobStatus.RUNNING
    wait: float | None = None
    ready: list[Ready] = field(default_factory=list)


@dataclass
class Outcome:
    status: ItemStatus
    verdict: Verdict | None = None
    error: str | None = None


def _pick(job: AnalyticsJob, want: int, running: int) -> tuple[int, bool]:
    """Return how many items the cost cap allows now, and whether the cap is what stops it."""
    if job.max_cost_usd is None:
        return want, False
    left = job.max_cost_usd - job.cost_usd
    actual = job.cost_usd / job.llm_calls if job.llm_calls else 0.0
    per_item = max(job.est_cost_per_item or 0.0, actual)
    if left <= 0:
        return 0, True
    if per_item <= 0:
        return want, False
    allowed = math.floor(left / per_item) - running
    return (min(want, allowed), True) if allowed < want else (want, False)


def _take_rate_tokens(job: AnalyticsJob, want: int) -> tuple[int, float | None]:
    """Spend the job's requests-per-minute tokens; return the count and any wait."""
    if not job.requests_per_minute or want <= 0:
        return want, None
    now = utcnow()
    per_second = job.requests_per_minute / 60
    burst = max(1.0, min(float(job.concurrency), per_second))
    tokens = burst if job.rate_tokens is None else job.rate_tokens
    if job.rate_updated_at is not None:
        elapsed = (now - job.rate_updated_at).total_seconds()
        tokens = min(burst, tokens + elapsed * per_second)
    granted = min(want, int(tokens))
    job.rate_tokens, job.rate_updated_at = tokens - granted, now
    if granted == 0:
        return 0, (1 - job.rate_tokens) / per_second
    return granted, None


class JobRun:
    """One worker's share of one job: up to `concurrency` judgments in flight."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        judge: Judge,
        *,
        worker_id: str,
        job_id: str,
    ) -> None:
        self.db = database
        self.settings = settings
        self.judge = judge
        self.worker_id = worker_id
        self.job_id = job_id
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        self.poll = settings.job_poll_seconds
        self.job: AnalyticsJob | None = None
        self._graphs: dict = {}
        self._finished: list[tuple[int, Outcome, asyncio.Future]] = []
        self._recorder: asyncio.Task | None = None
        self._calls = 0
        self._slots = 1  # this worker's share of the job's concurrency, set by each claim
        self._slot_freed = asyncio.Event()
        self._unavailable = 0
        self._outage: str | None = None
        # Calls that returned but whose cost is not committed yet: the cost cap counts them.
        self._unrecorded = 0

    async def run(self) -> str:
        """Work on the job until it completes, pauses, fails or is cancelled; return its status."""
        loop = asyncio.get_running_loop()
        tasks: dict[asyncio.Task, int] = {}
        ready: list[Ready] = []
        refill: asyncio.Task[Claim] | None = None
        status: str = JobStatus.RUNNING
        seen = resume_at = loop.time()
        # Items this worker still holds from an earlier run of this job in this process
        # (one cut short by a database outage) would otherwise stay leased while the
        # heartbeat keeps renewing them.
        async with self.db.write() as session:
            await repository.release_items(session, worker_id=self.worker_id, job_id=self.job_id)
        try:
            while True:
                slots = self._slots
                if refill is not None and refill.done():
                    claim, refill = refill.result(), None
                    status, seen = claim.status, loop.time()
                    ready += claim.ready
                    resume_at = loop.time() + (claim.wait or 0)
                if status in (JobStatus.CANCELLED, JobStatus.FAILED):
                    break
                if status not in ACTIVE_STATUSES and not tasks:
                    break
                if status in ACTIVE_STATUSES:
                    self._start(ready, tasks, slots)
                # Claiming and reading run beside the calls: a slot that frees takes a
                # ready item at once instead of waiting for a transaction. Even with
                # nothing to claim, the job is looked at every poll to notice a cancel.
                want = slots + self._read_ahead(slots) - self._calls - len(ready)
                due = want > 0 or loop.time() - seen >= self.poll
                active = status in ACTIVE_STATUSES and loop.time() >= resume_at
                if refill is None and active and due:
                    refill = asyncio.create_task(self._refill(max(want, 0)))
                await self._wait([*tasks, *([refill] if refill else [])], self.poll)
                for task in [t for t in tasks if t.done()]:
                    tasks.pop(task)
                    if isinstance(task.exception(), JobFailure):
                        await self._fail(str(task.exception()))
                        status = JobStatus.FAILED
                    elif task.exception() is not None:
                        raise task.exception()
                if self._outage is not None and status in ACTIVE_STATUSES:
                    status = await self._pause_for_outage(self._outage)
        finally:
            if refill is not None:
                refill.cancel()
                await asyncio.gather(refill, return_exceptions=True)
            await self._abandon(tasks)
        return status

    def _start(self, ready: list[Ready], tasks: dict[asyncio.Task, int], concurrency: int) -> None:
        """Start calls for ready items while there are free slots."""
        while ready and self._calls < concurrency:
            item_id, run = ready.pop(0)
            self._calls += 1
            tasks[asyncio.create_task(self._process(item_id, run))] = item_id

    def _outage_after(self) -> int:
        """Consecutive unavailable answers that mean the provider is down.

        At least one per slot, so an outage pauses the job before any run in flight has
        used up its attempts; never fewer than MAX_ATTEMPTS, for the same reason at
        concurrency 1, where one run fails again and again.
        """
        return max(MAX_ATTEMPTS, self.job.concurrency if self.job else 1)

    def _read_ahead(self, slots: int) -> int:
        """Items to claim beyond the free slots, so a freed slot starts at once.

        None under a cost cap: an item claimed ahead would start later without the cap
        being checked again against what the calls before it actually cost.
        """
        if self.job is not None and self.job.max_cost_usd is not None:
            return 0
        return min(16, slots // 2)

    async def _refill(self, want: int) -> Claim:
        """Claim up to ``want`` items and read their executions."""
        claim = await self._claim(want)
        loaded = await self._load([execution_id for _, execution_id in claim.items])
        claim.ready = [(item_id, loaded.get(eid)) for item_id, eid in claim.items]
        return claim

    async def _wait(self, waitables: list[asyncio.Task], seconds: float) -> None:
        """Wait until a call returns, something finishes, or ``seconds`` pass."""
        self._slot_freed.clear()
        freed = asyncio.create_task(self._slot_freed.wait())
        try:
            await asyncio.wait([*waitables, freed], timeout=seconds, return_when="FIRST_COMPLETED")
        finally:
            freed.cancel()

    async def _abandon(self, tasks: dict[asyncio.Task, int]) -> None:
        """Stop the calls in flight and give their items back, so a resume judges them."""
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._recorder is not None:
            # Results already being committed are kept.
            await asyncio.gather(self._recorder, return_exceptions=True)
        # Everything this run still holds of the job: calls cut short and items read ahead.
        async with self.db.write() as session:
            await repository.release_items(session, worker_id=self.worker_id, job_id=self.job_id)

    async def _claim(self, want: int) -> Claim:
        async with self.db.write() as session:
            job = await repository.get_job(session, self.job_id, lock=True)
            if job is None:
                return Claim(status=JobStatus.CANCELLED)
            self.job = job
            if job.status not in ACTIVE_STATUSES:
                return Claim(status=job.status)
            now = utcnow()
            if job.status == JobStatus.QUEUED:
                job.status = JobStatus.RUNNING
                job.run_started_at = now
                job.done_at_run_start = job.succeeded + job.failed
            if not job.selection_done:
                await self._select(session, job)
            # Calls in flight across workers: other workers' leased items, and this run's
            # own calls (its items waiting to be recorded make no call).
            running = self._calls + await repository.running_count(
                session, job.id, now, exclude_owner=self.worker_id
            )
            # Each live worker takes its share of the slots, so a worker that joins a
            # running job gets work instead of waiting behind the first one's read-ahead.
            live = await repository.live_workers(session, now - self.lease)
            self._slots = math.ceil(job.concurrency / max(1, live))
            spending = running + self._unrecorded
            count, capped = _pick(job, min(want, job.concurrency - running), spending)
            count, wait = _take_rate_tokens(job, count)
            items: list[tuple[int, str]] = []
            if count > 0:
                items = await repository.claim_items(
                    session,
                    job_id=job.id,
                    worker_id=self.worker_id,
                    count=count,
                    now=now,
                    lease=self.lease,
                )
            if not items and running == 0:
                if capped:
                    self._pause_for_cost(job)
                elif job.selection_done and not await repository.has_open_items(session, job.id):
                    job.status = JobStatus.COMPLETED
                    job.finished_at = now
            job.updated_at = now
            return Claim(items=items, status=job.status, wait=wait)

    def _pause_for_cost(self, job: AnalyticsJob) -> None:
        job.status = JobStatus.PAUSED
        job.reason = (
            f"cost cap reached: spent ${job.cost_usd:.4f} of max_cost_usd "
            f"${job.max_cost_usd:.4f}; raise max_cost_usd and resume to judge the rest"
        )
        job.finished_at = utcnow()

    async def _select(self, session, job: AnalyticsJob) -> None:
        """Turn the next chunk of matching executions into work items."""
        rows = await repository.select_chunk(session, job, SELECTION_CHUNK)
        items, skipped, reached_limit = [], 0, False
        for execution_id, created_at, judged in rows:
            if judged:
                status = ItemStatus.SKIPPED
                skipped += 1
            elif job.max_executions is not None and job.to_judge >= job.max_executions:
                reached_limit = True
                break
            else:
                status = ItemStatus.PENDING
                job.to_judge += 1
            items.append(
                {"job_id": job.id, "execution_id": execution_id, "status": status, "attempts": 0}
            )
            job.cursor_created_at, job.cursor_id = created_at, execution_id
        await repository.insert_items(session, items)
        job.selected += len(items)
        job.skipped += skipped
        if reached_limit or len(rows) < SELECTION_CHUNK:
            job.selection_done = True
            job.total = job.selected
        else:
            job.total = max(job.total, job.selected)

    async def _load(self, ids: list[str]) -> dict[str, tuple[ExecutionOut, GraphOut | None]]:
        """Read the claimed executions and their graphs in one go."""
        if not ids:
            return {}
        async with self.db.read() as session:
            return await judge_service.load_many(session, ids, self._graphs)

    async def _process(self, item_id: int, run: tuple[ExecutionOut, GraphOut | None] | None):
        try:
            outcome = await self._judge(run)
        finally:
            self._calls -= 1
            self._slot_freed.set()
        # A provider that keeps failing is down: pause rather than burn every item.
        if outcome.status == ItemStatus.PENDING:
            self._unavailable += 1
            if self._unavailable >= self._outage_after():
                self._outage = outcome.error
        else:
            self._unavailable = 0
        done = asyncio.get_running_loop().create_future()
        self._finished.append((item_id, outcome, done))
        self._unrecorded += 1
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_finished())
        await done

    async def _judge(self, run: tuple[ExecutionOut, GraphOut | None] | None) -> Outcome:
        job = self.job
        assert job is not None
        if run is None:
            return Outcome(ItemStatus.FAILED, error="the execution is no longer stored")
        execution, graph = run
        # Judged by someone else since this job selected it: never pay twice.
        if job.rescore_if_judge_changed:
            async with self.db.read() as session:
                judged = await repository.is_already_judged(session, job, execution.id)
        else:
            stats = execution.stats
            judged = job.skip_existing and (
                stats.activity_status is not None and stats.correctness_score is not None
            )
        if judged:
            return Outcome(ItemStatus.SKIPPED)
        request = JudgeRequest(job.model, job.system_prompt, job.user_prompt)
        try:
            verdict = await self.judge.judge(execution, graph, request)
        except JudgeFailed as exc:
            if exc.fatal:
                raise JobFailure(f"{exc}; fix the provider settings and resume the job") from exc
            if exc.unavailable:
                # Not this run's fault: it goes back in the queue (up to MAX_ATTEMPTS).
                return Outcome(ItemStatus.PENDING, error=str(exc))
            return Outcome(ItemStatus.FAILED, error=str(exc))
        except UserError as exc:
            raise JobFailure(str(exc)) from exc
        return Outcome(ItemStatus.SUCCESS, verdict=verdict)

    async def _record_finished(self) -> None:
        """Commit finished items as they arrive, together when several arrive at once.

        An item never waits for anything but the commit in progress: this is group
        commit, not batching, so each verdict is stored as soon as the database allows.
        """
        while self._finished:
            batch, self._finished = self._finished, []
            try:
                lost = await self._record(batch)
            except BaseException as exc:
                self._unrecorded -= len(batch)
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            self._unrecorded -= len(batch)
            for _, _, done in batch:
                if not done.done():
                    done.set_result(None)
            for item_id in lost:
                log.warning(
                    "item %s of job %s was taken over; result dropped", item_id, self.job_id
                )

    async def _record(self, batch: list[tuple[int, Outcome, asyncio.Future]]) -> list[int]:
        """Commit items' outcomes, their verdicts and the job's counters in one transaction."""
        async with self.db.write() as session:
            job = await repository.get_job(session, self.job_id, lock=True)
            if job is None:
                return [item_id for item_id, _, _ in batch]
            # Only items this worker still holds: one whose lease expired belongs to
            # whoever claimed it since, and this result is dropped.
            held = await repository.still_leased(
                session, self.worker_id, [item_id for item_id, _, _ in batch]
            )
            rows, retries, verdicts = [], [], []
            with session.no_autoflush:
                for item_id, outcome, _ in batch:
                    if item_id not in held:
                        continue
                    if outcome.status == ItemStatus.PENDING:
                        # During an outage nothing is given up on: the job pauses instead.
                        if held[item_id] < MAX_ATTEMPTS or self._outage is not None:
                            retries.append({"id": item_id, "status": outcome.status})
                            continue
                        outcome = Outcome(
                            ItemStatus.FAILED, error=f"{outcome.error} ({MAX_ATTEMPTS} attempts)"
                        )
                    rows.append(self._count(job, item_id, outcome))
                    if outcome.verdict is not None:
                        verdicts.append(outcome.verdict)
                job.updated_at = utcnow()
            await repository.finish_items(session, rows)
            await repository.finish_items(session, retries)
            if verdicts:
                await judge_service.store(session, verdicts)
            self.job = job
        return [item_id for item_id, _, _ in batch if item_id not in held]

    def _count(self, job: AnalyticsJob, item_id: int, outcome: Outcome) -> dict:
        """Add an outcome to the job's counters; return the item's new values."""
        verdict = outcome.verdict
        job.done_count += 1
        if outcome.status == ItemStatus.SUCCESS:
            job.succeeded += 1
        elif outcome.status == ItemStatus.FAILED:
            job.failed += 1
        else:
            job.skipped += 1
        if verdict is not None and verdict.judge == "llm":
            job.llm_calls += 1
            job.input_tokens += verdict.input_tokens or 0
            job.output_tokens += verdict.output_tokens or 0
            job.cost_usd += verdict.cost_usd or 0.0
        return {
            "id": item_id,
            "status": outcome.status,
            "error": outcome.error,
            "done_order": job.done_count,
            "judged_at": utcnow(),
            "judged_by": self.worker_id,
            "summary": verdict.activity_status if verdict else None,
            "score": verdict.correctness_score if verdict else None,
            "judge": verdict.judge if verdict else None,
            "input_tokens": verdict.input_tokens if verdict else None,
            "output_tokens": verdict.output_tokens if verdict else None,
            "cost_usd": verdict.cost_usd if verdict else None,
        }

    async def _pause_for_outage(self, error: str) -> str:
        """Pause the job: the provider answered "unavailable" too many times in a row."""
        async with self.db.write() as session:
            job = await repository.get_job(session, self.job_id, lock=True)
            if job is None or job.status not in ACTIVE_STATUSES:
                return job.status if job is not None else JobStatus.CANCELLED
            job.status = JobStatus.PAUSED
            job.reason = (
                f"the provider looks unavailable: {self._unavailable} calls in a row failed "
                f"({error}); those runs are kept for later, resume the job when it is back"
            )
            job.finished_at = job.updated_at = utcnow()
            return job.status

    async def _fail(self, reason: str) -> None:
        async with self.db.write() as session:
            job = await repository.get_job(session, self.job_id, lock=True)
            if job is not None and job.status in ACTIVE_STATUSES:
                job.status = JobStatus.FAILED
                job.reason = reason
                job.finished_at = job.updated_at = utcnow()


class Worker:
    """Runs every active job (or just one) and keeps its leases alive."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        judge: Judge,
        *,
        kind: str = "service",
    ) -> None:
        self.db = database
        self.settings = settings
        self.judge = judge
        self.kind = kind
        self.id = f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.started_at = utcnow()
        self._wake = asyncio.Event()
        self._runs: dict[str, asyncio.Task] = {}

    def wake(self) -> None:
        """Look for new jobs now instead of at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Run active jobs until ``stop`` is set."""
        async with self._alive():
            while not stop.is_set():
                try:
                    async with self.db.read() as session:
                        active = await repository.active_job_ids(session)
                except (DBAPIError, OSError) as exc:
                    # The database is down or unreachable: keep polling until it is back.
                    log.warning("worker %s cannot read jobs: %s", self.id, type(exc).__name__)
                    active = []
                for job_id in active:
                    if job_id not in self._runs:
                        self._runs[job_id] = asyncio.create_task(self._run_job(job_id))
                for job_id, task in list(self._runs.items()):
                    if task.done():
                        del self._runs[job_id]
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

    async def run_job(self, job_id: str) -> str:
        """Run one job in this process until it stops; return its final status."""
        async with self._alive():
            return await self._run_job(job_id)

    async def _run_job(self, job_id: str) -> str:
        run = JobRun(self.db, self.settings, self.judge, worker_id=self.id, job_id=job_id)
        try:
            return await run.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            # A database outage or a bug: log it, keep the worker alive; the job's items
            # stay leased until they expire, and the next poll starts the job again.
            log.exception("job %s stopped unexpectedly; it will be retried", job_id)
            await asyncio.sleep(self.settings.job_poll_seconds * 4)
            return JobStatus.RUNNING

    def _alive(self):
        import_sdks()
        return _Heartbeat(self)


class _Heartbeat:
    """Register the worker, renew its leases while it runs, and unregister it."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> None:
        await self._beat()
        self.task = asyncio.create_task(self._loop())

    async def __aexit__(self, *exc_info) -> None:
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
        interval = self.worker.settings.job_lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await self._beat()
            except Exception:
                log.warning("worker %s heartbeat failed; retrying", self.worker.id)

    async def _beat(self) -> None:
        worker, now = self.worker, utcnow()
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
