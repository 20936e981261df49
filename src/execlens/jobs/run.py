"""Run one job in one worker: claim items under a lease, judge them concurrently, record each.

Every step that matters is one short transaction on the job's row: selecting the next
chunk of executions, claiming items, and recording an item's verdict together with the
job's counters. A worker killed at any moment leaves only leased items behind; their
leases expire and another run judges them again. Nothing else is repeated or lost.
"""

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from execlens.config import Settings
from execlens.db.engine import Database
from execlens.errors import UserError
from execlens.executions.domain import GraphRecord, RunRecord
from execlens.jobs import lifecycle, repository
from execlens.jobs.clock import SYSTEM_CLOCK, Clock
from execlens.jobs.models import ACTIVE_STATUSES, AnalyticsJob, ItemStatus, JobStatus
from execlens.jobs.outage import OutageWatch
from execlens.jobs.pacing import Grant, Pacing
from execlens.jobs.recorder import Outcome, Recorder
from execlens.judge.ask import JudgeFailed
from execlens.judge.judge import Judge, JudgeRequest
from execlens.judge.service import judge_service

SELECTION_CHUNK = 1_000
# The first claim selects only this many, so the job's first calls start without
# waiting for a thousand items to be written.
FIRST_SELECTION_CHUNK = 100
# Slots from which a worker claims items ahead of its calls, and the most it claims
# ahead (see JobRun._read_ahead).
READ_AHEAD_FROM = 8
READ_AHEAD = 16

Run = tuple[RunRecord, GraphRecord | None]
Ready = tuple[int, Run | None]


class JobFailure(Exception):
    """Something every item would hit: the job stops with this reason."""


@dataclass
class Claim:
    """Items leased by one claim, the job's status then, and any wait the pacing asks for."""

    items: list[tuple[int, str]] = field(default_factory=list)
    status: str = JobStatus.RUNNING
    wait: float | None = None
    ready: list[Ready] = field(default_factory=list)
    # Fewer items than asked for, and no pacing wait: asking again before something
    # changed (a call finished or was stored) would get no more.
    short: bool = False
    # Nothing was left to claim: more appear only when a run is put back, or another
    # worker's lease lapses (a poll finds those).
    exhausted: bool = False


@dataclass
class _Loop:
    """What the scheduling loop tracks between two turns."""

    status: str
    seen: float
    resume_at: float
    tasks: dict["asyncio.Task[None]", int] = field(default_factory=dict)
    ready: list[Ready] = field(default_factory=list)
    refill: "asyncio.Task[Claim] | None" = None
    short: bool = False
    exhausted: bool = False
    # The run's progress and put-back counts when the last claim started.
    progress: int = 0
    requeued: int = 0

    @property
    def active(self) -> bool:
        """Return True while the job is queued or running."""
        return self.status in ACTIVE_STATUSES

    def waitables(self) -> list["asyncio.Task[Any]"]:
        """Return the calls in flight and the claim in progress."""
        return [*self.tasks, *([self.refill] if self.refill else [])]


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
        clock: Clock = SYSTEM_CLOCK,
        pacing: Pacing | None = None,
    ) -> None:
        self.db = database
        self.settings = settings
        self.judge = judge
        self.worker_id = worker_id
        self.job_id = job_id
        self.clock = clock
        self.pacing = pacing or Pacing.with_provider(settings, judge.limits)
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        self.poll = settings.job_poll_seconds
        self.job: AnalyticsJob | None = None
        self._recorder = Recorder(database, clock, worker_id=worker_id, job_id=job_id)
        self._recorder.in_flight = lambda: self._calls
        self._graphs: dict[tuple[str, int], GraphRecord | None] = {}
        self._calls = 0
        self._slots = 1  # this worker's share of the job's concurrency, set by each claim
        self._slot_freed = asyncio.Event()
        self._outages = OutageWatch()
        # Calls finished and outcomes stored, and runs put back for another attempt.
        self._progress = self._requeued = 0
        # Whether the first claim gave back what this worker held of the job before.
        self._released = False

    async def run(self) -> str:
        """Work on the job until it completes, pauses, fails or is cancelled; return its status."""
        started = self.clock.monotonic()
        loop = _Loop(status=JobStatus.RUNNING, seen=started, resume_at=started)
        try:
            while True:
                slots = self._slots
                self._take_claim(loop)
                if self._done(loop):
                    break
                if loop.active:
                    self._start(loop, slots)
                self._ask_for_more(loop, slots)
                # A pacing wait ends before the poll: the next call starts on time.
                due = loop.resume_at - self.clock.monotonic()
                await self._wait(loop.waitables(), min(self.poll, due) if due > 0 else self.poll)
                await self._reap(loop)
                if self._recorder.outage is not None and loop.active:
                    loop.status = await self._pause_for_outage(self._recorder.outage)
        finally:
            await self._abandon(loop)
        return loop.status

    def _take_claim(self, loop: _Loop) -> None:
        """Take the items and the job's status from a finished claim."""
        if loop.refill is None or not loop.refill.done():
            return
        claim, loop.refill = loop.refill.result(), None
        loop.status, loop.seen = claim.status, self.clock.monotonic()
        loop.ready += claim.ready
        loop.short, loop.exhausted = claim.short, claim.exhausted
        loop.resume_at = loop.seen + (claim.wait or 0)

    @staticmethod
    def _done(loop: _Loop) -> bool:
        """Return True when the loop ends: the job stopped and nothing is in flight."""
        if loop.status in (JobStatus.CANCELLED, JobStatus.FAILED):
            return True
        return not loop.active and not loop.tasks

    def _start(self, loop: _Loop, slots: int) -> None:
        """Start calls for ready items while there are free slots."""
        while loop.ready and self._calls < slots:
            item_id, run = loop.ready.pop(0)
            self._calls += 1
            loop.tasks[asyncio.create_task(self._process(item_id, run))] = item_id

    def _ask_for_more(self, loop: _Loop, slots: int) -> None:
        """Claim and read more items beside the calls in flight, when due.

        A slot that frees takes a ready item at once instead of waiting for a
        transaction. Even with nothing to claim, the job is looked at every poll to
        notice a cancel.
        """
        now = self.clock.monotonic()
        if loop.refill is not None or not loop.active or now < loop.resume_at:
            return
        ahead = self._read_ahead(slots)
        want = slots + ahead - self._calls - len(loop.ready)
        if now - loop.seen >= self.poll or self._claim_due(loop, want, slots, ahead):
            loop.progress, loop.requeued = self._progress, self._requeued
            loop.refill = asyncio.create_task(self._refill(max(want, 0), loop.ready))

    def _claim_due(self, loop: _Loop, want: int, slots: int, ahead: int) -> bool:
        """Return True when a claim now would lease items worth its transaction.

        Claims come in batches: once half the read-ahead is used, or at once when a slot
        would sit idle. After a claim that got fewer than it asked for, only once
        something changed; after one that found nothing left, only to settle the job
        when its last call is stored.
        """
        if want <= 0:
            return False
        changed = self._progress > loop.progress
        if loop.exhausted and self._requeued == loop.requeued:
            return changed and self._calls == 0 and not loop.ready
        if loop.short and not changed:
            return False
        idle = not loop.ready and self._calls < slots
        return idle or want >= max(1, ahead // 2)

    async def _reap(self, loop: _Loop) -> None:
        """Forget finished calls; a call that hit a job-wide failure fails the job."""
        for task in [t for t in loop.tasks if t.done()]:
            loop.tasks.pop(task)
            error = task.exception()
            if isinstance(error, JobFailure):
                await self._fail(str(error))
                loop.status = JobStatus.FAILED
            elif error is not None:
                raise error

    def _read_ahead(self, slots: int) -> int:
        """Items to claim beyond the free slots, so a freed slot starts at once.

        Claims then come in batches: a claim per finished call costs more CPU than the
        call itself once calls finish often, and only wide jobs finish them that often.
        None for a narrow one, so a worker never holds more runs than its slots there;
        none under a cost cap either: an item claimed ahead would start later without
        the cap being checked again against what the calls before it actually cost.
        """
        capped = self.job is not None and self.job.max_cost_usd is not None
        if capped or slots < READ_AHEAD_FROM:
            return 0
        # Half the slots, and all but 8 of them up to READ_AHEAD: the POST route's 25
        # calls claim in batches of 16 as a 32-call job does, not of 12 (a third more
        # claims and commits), while 16 calls keep the 8 a provider's first wave was
        # tested with.
        return max(slots // 2, min(READ_AHEAD, slots - READ_AHEAD_FROM))

    async def _refill(self, want: int, ready: list[Ready]) -> Claim:
        """Claim up to ``want`` items and read their executions."""
        claim = await self._claim(want, ready)
        loaded = await self._load([execution_id for _, execution_id in claim.items])
        claim.ready = [(item_id, loaded.get(eid)) for item_id, eid in claim.items]
        return claim

    async def _wait(self, waitables: Sequence["asyncio.Task[Any]"], seconds: float) -> None:
        """Wait until a call returns, something finishes, or ``seconds`` pass."""
        self._slot_freed.clear()
        freed = asyncio.create_task(self._slot_freed.wait())
        try:
            await asyncio.wait([*waitables, freed], timeout=seconds, return_when="FIRST_COMPLETED")
        finally:
            freed.cancel()

    async def _abandon(self, loop: _Loop) -> None:
        """Stop the calls in flight and give their items back, so a resume judges them."""
        if loop.refill is not None:
            loop.refill.cancel()
            await asyncio.gather(loop.refill, return_exceptions=True)
        for task in loop.tasks:
            task.cancel()
        await asyncio.gather(*loop.tasks, return_exceptions=True)
        await self._recorder.drain()
        # Everything this run still holds of the job: calls cut short and items read ahead.
        async with self.db.write() as session:
            await repository.release_items(session, worker_id=self.worker_id, job_id=self.job_id)

    async def _claim(self, want: int, ready: list[Ready]) -> Claim:
        """Lease items the job's concurrency and pacing allow now; settle an idle job.

        Items claimed ahead and still ``ready`` count like calls in flight, beyond the
        read-ahead this worker may hold.
        """
        async with self.db.write() as session:
            return await self._claim_in(session, want, ready)

    async def _claim_in(self, session: AsyncSession, want: int, ready: list[Ready]) -> Claim:
        held = await repository.hold_job(session, self.job_id)
        if held is None:
            return Claim(status=JobStatus.CANCELLED)
        job = self.job = held.obj
        if job.status not in ACTIVE_STATUSES:
            return Claim(status=job.status)
        if not self._released:
            # Items this worker still holds from an earlier run of this job in this
            # process (one cut short by a database outage) would otherwise stay
            # leased while the heartbeat keeps renewing them. In the first claim's
            # transaction, not one of its own before it: the first call starts sooner.
            await repository.release_items(session, worker_id=self.worker_id, job_id=self.job_id)
            self._released = True
        now = self.clock.now()
        if job.status == JobStatus.QUEUED:
            lifecycle.start(job, now)
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
        # A batch of outcomes per commit where claims come in batches too: as many as
        # the read-ahead, since each commit costs a transaction of several statements.
        ahead = self._read_ahead(self._slots)
        self._recorder.batch = max(1, ahead)
        waiting = len(ready)
        # The share just learned may be wider than the one the claim was asked for (the
        # first claim knows none): fill it now, not with a second claim behind the first call.
        want = max(want, self._slots + ahead - self._calls - waiting)
        spending = running + waiting + self._recorder.unrecorded
        cap = job.concurrency + ahead - running - waiting
        await self.pacing.prepare(session, job, now)
        grant = self.pacing.grant(job, min(want, cap), spending=spending, now=now)
        items: list[tuple[int, str]] = []
        if grant.count > 0:
            items = await repository.claim_items(
                session,
                job_id=job.id,
                worker_id=self.worker_id,
                count=grant.count,
                now=now,
                lease=self.lease,
            )
        # Results not yet recorded settle nothing: what they cost decides the cap.
        if not items and spending == 0:
            await self._settle_idle(session, job, grant, now)
        await self.pacing.store(session)
        if held.changes():
            # Leasing items changes no column of the job: its row is written only when
            # the claim changed it (started, settled, paced), not one UPDATE per claim.
            job.updated_at = now
            await repository.write_changes(session, held)
        return Claim(
            items=items,
            status=job.status,
            wait=grant.wait,
            short=grant.wait is None and len(items) < want,
            exhausted=job.selection_done and len(items) < grant.count,
        )

    async def _settle_idle(
        self, session: AsyncSession, job: AnalyticsJob, grant: Grant, now: datetime
    ) -> None:
        """With nothing in flight and nothing claimed: complete, or pause at the cost cap.

        Only a cap that pays for no more call pauses: one that still pays for a verdict
        while nothing is left to judge (or nothing claimable yet) does not.
        """
        if job.selection_done and not await repository.has_open_items(session, job.id):
            lifecycle.complete(job, now)
        elif grant.cost_cap_reached and grant.count <= 0:
            reason = (
                f"cost cap reached: spent ${job.cost_usd:.4f} of max_cost_usd "
                f"${job.max_cost_usd or 0:.4f}; raise max_cost_usd and resume to judge the rest"
            )
            lifecycle.pause(job, now, reason)

    async def _select(self, session: AsyncSession, job: AnalyticsJob) -> None:
        """Turn the next chunk of matching executions into work items."""
        chunk = SELECTION_CHUNK if job.selected else FIRST_SELECTION_CHUNK
        rows = await repository.select_chunk(session, job, chunk)
        items: list[dict[str, Any]] = []
        skipped, reached_limit = 0, False
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
        if reached_limit or len(rows) < chunk:
            job.selection_done = True
            job.total = job.selected
        else:
            job.total = max(job.total, job.selected)

    async def _load(self, ids: list[str]) -> dict[str, Run]:
        """Read the claimed executions and their graphs in one go."""
        if not ids:
            return {}
        async with self.db.read() as session:
            return await judge_service.load_many(session, ids, self._graphs)

    async def _process(self, item_id: int, run: Run | None) -> None:
        """Judge one item, note a provider outage, and wait until its outcome is stored."""
        try:
            outcome = await self._judge(run)
        finally:
            self._calls -= 1
            self._progress += 1
            self._slot_freed.set()
        concurrency = self.job.concurrency if self.job else 1
        if self._outages.is_outage(item_id, outcome, concurrency=concurrency):
            self._recorder.outage = outcome.error
        try:
            await self._recorder.record(item_id, self._outages.attributed(item_id, outcome))
        finally:
            self._progress += 1
            self._requeued += outcome.is_retry_later

    async def _already_judged(self, job: AnalyticsJob, execution: RunRecord) -> bool:
        """Return True when someone else judged the run since this job selected it."""
        if job.rescore_if_judge_changed:
            async with self.db.read() as session:
                return await repository.is_already_judged(session, job, execution.id)
        return job.skip_existing and (
            execution.activity_status is not None and execution.correctness_score is not None
        )

    async def _judge(self, run: Run | None) -> Outcome:
        """Judge one run; never pay twice for a run judged meanwhile."""
        job = self.job
        assert job is not None
        if run is None:
            return Outcome(ItemStatus.FAILED, error="the execution is no longer stored")
        execution, graph = run
        if await self._already_judged(job, execution):
            return Outcome(ItemStatus.SKIPPED)
        request = JudgeRequest(job.model, job.system_prompt, job.user_prompt)
        try:
            verdict = await self.judge.judge(execution, graph, request)
        except JudgeFailed as exc:
            if exc.fatal:
                raise JobFailure(f"{exc}; fix the provider settings and resume the job") from exc
            if exc.unavailable:
                # Maybe not this run's fault: it goes back in the queue (up to MAX_ATTEMPTS).
                return Outcome.retry_later(str(exc), rate_limited=exc.rate_limited)
            return Outcome(ItemStatus.FAILED, error=str(exc))
        except UserError as exc:
            raise JobFailure(str(exc)) from exc
        return Outcome(ItemStatus.SUCCESS, verdict=verdict)

    async def _pause_for_outage(self, error: str) -> str:
        """Pause the job: the provider answered "unavailable" too many times in a row."""
        async with self.db.write() as session:
            job = await repository.get_job(session, self.job_id, lock=True)
            if job is None:
                return JobStatus.CANCELLED
            if not lifecycle.can_move(job, JobStatus.PAUSED):
                return job.status
            runs = len(self._outages.failing)
            reason = (
                f"the provider looks unavailable: calls for {runs} runs in a row failed "
                f"({error}); those runs are kept for later, resume the job when it is back"
            )
            lifecycle.pause(job, self.clock.now(), reason)
            return job.status

    async def _fail(self, reason: str) -> None:
        """Fail the job for ``reason``, unless it stopped already."""
        async with self.db.write() as session:
            job = await repository.get_job(session, self.job_id, lock=True)
            if job is not None and lifecycle.can_move(job, JobStatus.FAILED):
                lifecycle.fail(job, self.clock.now(), reason)
