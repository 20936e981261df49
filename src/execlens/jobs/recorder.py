"""Store finished items with group commit: one transaction for whatever finished meanwhile."""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from execlens.db.engine import Database
from execlens.jobs import repository
from execlens.jobs.clock import Clock
from execlens.jobs.models import AnalyticsJob, ItemStatus
from execlens.judge.schemas import Verdict
from execlens.judge.service import judge_service

log = logging.getLogger("execlens.jobs")
# A run the provider could not answer (down, overloaded) is tried this many times.
MAX_ATTEMPTS = 3
# A run put back after a failed call waits this long per attempt before it is claimed
# again: a failure that belongs to the run itself does not come straight back, so the
# calls between its attempts show whether the provider is down or only this run fails.
RETRY_DELAY = timedelta(seconds=0.5)
# The longest an outcome waits for others to share its commit.
GATHER_SECONDS = 0.1


@dataclass(frozen=True)
class Outcome:
    """What judging one item came to."""

    status: ItemStatus
    verdict: Verdict | None = None
    error: str | None = None
    # A call refused for the provider key's rate limit: it costs the run no attempt.
    rate_limited: bool = False
    # No other call was answered since this run first failed: nothing says the failure
    # is the run's own, so it is given up on only after twice the attempts.
    unproven: bool = False

    @classmethod
    def retry_later(cls, error: str, *, rate_limited: bool = False) -> "Outcome":
        """The provider could not answer (down, overloaded): the item goes back in the queue."""
        return cls(ItemStatus.PENDING, error=error, rate_limited=rate_limited)

    @property
    def is_retry_later(self) -> bool:
        """Return True when the item is to be judged again, not finished."""
        return self.status == ItemStatus.PENDING


Finished = tuple[int, Outcome, "asyncio.Future[None]"]


class Recorder:
    """Commits items' outcomes, their verdicts and the job's counters as they arrive."""

    def __init__(self, database: Database, clock: Clock, *, worker_id: str, job_id: str) -> None:
        self.db = database
        self.clock = clock
        self.worker_id = worker_id
        self.job_id = job_id
        # Results whose cost is not committed yet: the cost cap counts them.
        self.unrecorded = 0
        # Set while the provider looks down: nothing is given up on, the job pauses.
        self.outage: str | None = None
        self._finished: list[Finished] = []
        self._task: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()
        # Outcomes worth one commit, and how many calls may still bring one: set by the
        # job run. 1 commits each outcome as soon as the database allows.
        self.batch = 1
        self.in_flight: Callable[[], int] = lambda: 0

    async def record(self, item_id: int, outcome: Outcome) -> None:
        """Queue an outcome for the next commit and wait until it is stored."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._finished.append((item_id, outcome, done))
        self.unrecorded += 1
        self._arrived.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._record_finished())
        await done

    async def drain(self) -> None:
        """Wait for the commit in progress; results already being committed are kept."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _record_finished(self) -> None:
        """Commit finished items as they arrive, together when several arrive at once.

        An outcome waits for the commit in progress, and at most GATHER_SECONDS for the
        calls in flight to bring a batch's worth: a commit per outcome would cost a wide
        job more CPU than its calls.
        """
        while self._finished:
            await self._gather()
            batch, self._finished = self._finished, []
            try:
                lost = await self._record(batch)
            except BaseException as exc:
                self._settle(batch, exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            self._settle(batch, None)
            for item_id in lost:
                log.warning(
                    "item %s of job %s was taken over; result dropped", item_id, self.job_id
                )

    async def _gather(self) -> None:
        """Wait until a batch's worth of outcomes is queued, while calls in flight may bring it."""
        deadline = asyncio.get_running_loop().time() + GATHER_SECONDS
        while (missing := self.batch - len(self._finished)) > 0 and self.in_flight() >= missing:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                return

    def _settle(self, batch: list[Finished], error: BaseException | None) -> None:
        """Tell the items of ``batch`` whether they were stored."""
        self.unrecorded -= len(batch)
        for _, _, done in batch:
            if done.done():
                continue
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)

    async def _record(self, batch: list[Finished]) -> list[int]:
        """Commit items' outcomes, their verdicts and the job's counters in one transaction."""
        ids = [item_id for item_id, _, _ in batch]
        async with self.db.write() as session:
            # The job's row is locked first: its counters, and the items' done_order, move
            # in one order across workers.
            row = await repository.hold_job(session, self.job_id)
            if row is None:
                return ids
            job = row.obj
            # Only items this worker still holds: one whose lease expired belongs to
            # whoever claimed it since, and this result is dropped.
            held = await repository.still_leased(session, self.worker_id, ids)
            lost = [item_id for item_id in ids if item_id not in held]
            rows: list[dict[str, Any]] = []
            retries: list[dict[str, Any]] = []
            verdicts: list[Verdict] = []
            for item_id, outcome, _ in batch:
                # pop: a run this worker took again after its own lease lapsed can
                # finish twice in one commit; only the first answer counts.
                attempts = held.pop(item_id, None)
                if attempts is None:
                    continue
                final = self._final(outcome, attempts)
                if final is None:
                    retries.append(self._retry(item_id, outcome, attempts))
                    continue
                rows.append(self._count(job, item_id, final))
                if final.verdict is not None:
                    verdicts.append(final.verdict)
            job.updated_at = self.clock.now()
            await repository.write_changes(session, row)
            await repository.finish_items(session, rows)
            await repository.finish_items(session, retries)
            if verdicts:
                await judge_service.store(session, verdicts, current=not job.evaluation)
        return lost

    def _retry(self, item_id: int, outcome: Outcome, attempts: int) -> dict[str, Any]:
        """Return the values that put an item back in the queue, due after its delay."""
        row: dict[str, Any] = {"id": item_id, "status": outcome.status}
        if outcome.rate_limited:
            # The pacing makes it wait for its turn; the refusal costs no attempt.
            return row | {"attempts": attempts - 1, "lease_expires_at": None}
        due = self.clock.now() + RETRY_DELAY * attempts
        return row | {"attempts": attempts, "lease_expires_at": due}

    def _final(self, outcome: Outcome, attempts: int) -> Outcome | None:
        """Return the outcome to store, or None when the item is to be retried."""
        if not outcome.is_retry_later:
            return outcome
        if outcome.rate_limited or (outcome.unproven and attempts < 2 * MAX_ATTEMPTS):
            return None
        # During an outage nothing is given up on: the job pauses instead.
        if attempts < MAX_ATTEMPTS or self.outage is not None:
            return None
        return Outcome(ItemStatus.FAILED, error=f"{outcome.error} ({MAX_ATTEMPTS} attempts)")

    def _count(self, job: AnalyticsJob, item_id: int, outcome: Outcome) -> dict[str, Any]:
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
            "judged_at": self.clock.now(),
            "judged_by": self.worker_id,
            "summary": verdict.activity_status if verdict else None,
            "score": verdict.correctness_score if verdict else None,
            "judge": verdict.judge if verdict else None,
            "input_tokens": verdict.input_tokens if verdict else None,
            "output_tokens": verdict.output_tokens if verdict else None,
            "cost_usd": verdict.cost_usd if verdict else None,
            "evidence_kept": verdict.evidence_kept if verdict else None,
        }
