"""Create, estimate, report on, cancel and resume analytics jobs."""

import asyncio
import csv
import hashlib
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from execlens.audit.service import audit_service
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.errors import ConflictError, NotFoundError, UserError
from execlens.executions.models import Execution
from execlens.jobs import repository
from execlens.jobs.models import (
    ACTIVE_STATUSES,
    RESUMABLE_STATUSES,
    AnalyticsJob,
    ItemStatus,
    JobItem,
    JobStatus,
)
from execlens.jobs.schemas import (
    ExecutionAnalyticsResponse,
    ExecutionAnalyticsResult,
    JobCreate,
    JobEstimate,
    JobOut,
    JobResult,
)
from execlens.judge.catalog import estimate_cost_usd
from execlens.judge.digest import estimate_tokens
from execlens.judge.prompts import DEFAULT_SYSTEM_PROMPT, DEFAULT_USER_PROMPT, check_prompts
from execlens.judge.prompts import prompt_hash as hash_prompts
from execlens.judge.providers import resolve_model
from execlens.judge.rules import apply_rules

ESTIMATE_SAMPLE = 20
EVENT_BATCH = 200
CSV_COLUMNS = (
    "exec_id",
    "agent_id",
    "version_id",
    "user_id",
    "status",
    "score",
    "summary_text",
    "error_message",
    "judge",
    "cost_usd",
    "started_at",
    "ended_at",
    "judged_at",
)
# A verdict is one to three sentences and a score: about 60-120 tokens of JSON.
EXPECTED_OUTPUT_TOKENS = 120


def utcnow() -> datetime:
    return datetime.now(UTC)


def _params_key(params: JobCreate, model: str) -> str:
    """Hash what decides which executions a job judges and how."""
    fields = params.model_dump(
        mode="json",
        include={
            "graph_id",
            "graph_version",
            "user_id",
            "created_after",
            "created_before",
            "limit",
            "skip_existing",
            "rescore_if_judge_changed",
            "system_prompt",
            "user_prompt",
        },
    )
    blob = json.dumps(fields | {"model": model}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _cell(value: object) -> object:
    """Keep spreadsheet apps from running text that starts like a formula."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def job_out(job: AnalyticsJob, now: datetime | None = None) -> JobOut:
    """Describe a job with its progress, rate and ETA."""
    now = now or utcnow()
    done = job.succeeded + job.failed + job.skipped
    total = max(job.total, done)
    judged = job.succeeded + job.failed
    rate = eta = None
    if job.status == JobStatus.RUNNING and job.run_started_at is not None:
        elapsed = (now - job.run_started_at).total_seconds()
        if elapsed > 0 and judged > job.done_at_run_start:
            rate = (judged - job.done_at_run_start) / elapsed
            eta = (total - done) / rate
    return JobOut(
        id=job.id,
        status=job.status,
        reason=job.reason,
        created_by=job.created_by,
        created_at=job.created_at,
        finished_at=job.finished_at,
        graph_id=job.graph_id,
        graph_version=job.graph_version,
        user_id=job.user_id,
        created_after=job.created_after,
        created_before=job.created_before,
        limit=job.max_executions,
        skip_existing=job.skip_existing,
        rescore_if_judge_changed=job.rescore_if_judge_changed,
        model=job.model,
        provider=job.provider,
        concurrency=job.concurrency,
        requests_per_minute=job.requests_per_minute,
        max_cost_usd=job.max_cost_usd,
        custom_prompts=job.system_prompt is not None or job.user_prompt is not None,
        total=total,
        selection_done=job.selection_done,
        succeeded=job.succeeded,
        failed=job.failed,
        skipped=job.skipped,
        done=done,
        remaining=total - done,
        progress=done / total if total else (1.0 if job.selection_done else 0.0),
        rate_per_second=rate,
        eta_seconds=eta,
        llm_calls=job.llm_calls,
        input_tokens=job.input_tokens,
        output_tokens=job.output_tokens,
        cost_usd=job.cost_usd,
    )


def job_result(item: JobItem, execution: Execution) -> JobResult:
    """Describe one item's outcome in upstream terms."""
    skipped = item.status == ItemStatus.SKIPPED
    return JobResult(
        item_id=item.id,
        agent_id=execution.graph_id,
        version_id=execution.graph_version,
        user_id=execution.user_id,
        exec_id=execution.id,
        # A skipped run shows the summary and score it already had.
        summary_text=execution.activity_status if skipped else item.summary,
        score=execution.correctness_score if skipped else item.score,
        status=item.status if item.status in ("success", "failed", "skipped") else "skipped",
        error_message=item.error,
        created_at=execution.created_at,
        updated_at=execution.last_changed_at,
        started_at=execution.started_at,
        ended_at=execution.ended_at,
        judge=item.judge,
        cost_usd=item.cost_usd,
        judged_at=item.judged_at,
    )


class AnalyticsService:
    """The logic behind the analytics API, CLI and dashboard."""

    def _new_job(self, settings: Settings, params: JobCreate, created_by: str) -> AnalyticsJob:
        entry = resolve_model(settings, params.model_name)
        system = params.system_prompt or DEFAULT_SYSTEM_PROMPT
        template = params.user_prompt or DEFAULT_USER_PROMPT
        check_prompts(system, template)
        if params.max_cost_usd is not None and entry.input_price_per_mtok is None:
            raise UserError(
                f"max_cost_usd: the price of model {entry.id!r} is unknown, so a cost cap "
                "cannot be enforced; drop max_cost_usd or pick a model with a known price"
            )
        now = utcnow()
        return AnalyticsJob(
            id=str(uuid.uuid4()),
            status=JobStatus.QUEUED,
            created_by=created_by,
            created_at=now,
            updated_at=now,
            params_key=_params_key(params, entry.id),
            graph_id=params.graph_id,
            graph_version=params.graph_version,
            user_id=params.user_id,
            created_after=params.created_after,
            created_before=params.created_before,
            max_executions=params.limit,
            skip_existing=params.skip_existing,
            rescore_if_judge_changed=params.rescore_if_judge_changed,
            model=entry.id,
            provider=entry.provider,
            system_prompt=params.system_prompt,
            user_prompt=params.user_prompt,
            prompt_hash=hash_prompts(system, template),
            concurrency=params.concurrency or params.batch_size,
            requests_per_minute=params.requests_per_minute,
            max_cost_usd=params.max_cost_usd,
            selection_done=False,
            total=0,
            selected=0,
            to_judge=0,
            succeeded=0,
            failed=0,
            skipped=0,
            done_count=0,
            llm_calls=0,
            input_tokens=0,
            output_tokens=0,
            cost_usd=0.0,
            done_at_run_start=0,
        )

    async def estimate(
        self, session: AsyncSession, settings: Settings, params: JobCreate
    ) -> JobEstimate:
        """Return how many executions a job would judge, and its tokens and cost."""
        job = self._new_job(settings, params, created_by="estimate")
        counts = await repository.count_candidates(session, job)
        return await self._estimate(session, settings, job, counts)

    async def _estimate(
        self,
        session: AsyncSession,
        settings: Settings,
        job: AnalyticsJob,
        counts: tuple[int, int],
    ) -> JobEstimate:
        # Imported here: the judge pulls in the LLM SDKs, which take seconds to load.
        from execlens.judge.judge import Judge, JudgeRequest
        from execlens.judge.service import judge_service

        matching, to_judge = counts
        if job.max_executions is not None:
            to_judge = min(to_judge, job.max_executions)
        judge = Judge(settings)
        request = JudgeRequest(job.model, job.system_prompt, job.user_prompt)
        sample = await repository.sample_to_judge(session, job, ESTIMATE_SAMPLE)
        by_rules = tokens_in = 0
        for execution, graph in (await judge_service.load_many(session, sample, {})).values():
            if apply_rules(execution) is not None:
                by_rules += 1
                continue
            call = judge.prepare(execution, graph, request)
            tokens_in += estimate_tokens(call.system_prompt) + estimate_tokens(call.user_prompt)
        llm_share = (len(sample) - by_rules) / len(sample) if sample else 1.0
        per_call_in = tokens_in / (len(sample) - by_rules) if len(sample) > by_rules else 0
        calls = round(to_judge * llm_share)
        entry = resolve_model(settings, job.model)
        input_tokens = round(calls * per_call_in)
        output_tokens = calls * EXPECTED_OUTPUT_TOKENS
        cost = estimate_cost_usd(entry, input_tokens, output_tokens)
        per_execution = estimate_cost_usd(
            entry, round(per_call_in * llm_share), round(EXPECTED_OUTPUT_TOKENS * llm_share)
        )
        return JobEstimate(
            model=entry.id,
            provider=entry.provider,
            matching_executions=matching,
            to_judge=to_judge,
            sampled=len(sample),
            judged_by_rules=by_rules / len(sample) if sample else 0.0,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost,
            cost_per_execution_usd=per_execution,
        )

    async def create(
        self,
        session: AsyncSession,
        settings: Settings,
        params: JobCreate,
        *,
        created_by: str,
        acting_as: str | None = None,
        resume_same: bool = False,
    ) -> tuple[AnalyticsJob, bool]:
        """Queue a job; with ``resume_same``, resume an unfinished one with the same settings."""
        job = self._new_job(settings, params, created_by)
        if resume_same:
            statuses = (*ACTIVE_STATUSES, *RESUMABLE_STATUSES)
            if existing := await repository.find_resumable(session, job.params_key, statuses):
                existing.concurrency = job.concurrency
                existing.requests_per_minute = job.requests_per_minute
                existing.max_cost_usd = job.max_cost_usd
                self._requeue(existing)
                self._audit(session, existing, "resumed", created_by, acting_as)
                return existing, True
        counts = await repository.count_candidates(session, job)
        matching, to_judge = counts
        # An upper bound until selection ends: with a limit, fewer may be taken.
        limit = job.max_executions
        job.total = matching if limit is None else matching - to_judge + min(to_judge, limit)
        if job.max_cost_usd is not None:
            estimate = await self._estimate(session, settings, job, counts)
            job.est_cost_per_item = estimate.cost_per_execution_usd
        session.add(job)
        self._audit(
            session,
            job,
            "created",
            created_by,
            acting_as,
            params.model_dump(mode="json", exclude={"system_prompt", "user_prompt"}),
        )
        await session.flush()
        return job, False

    def _audit(
        self,
        session: AsyncSession,
        job: AnalyticsJob,
        what: str,
        actor: str,
        acting_as: str | None,
        details: dict | None = None,
    ) -> None:
        audit_service.record(
            session,
            actor=actor,
            acting_as=acting_as,
            action=f"analytics_job.{what}",
            target_type="analytics_job",
            target_id=job.id,
            details=details,
        )

    async def get(self, session: AsyncSession, job_id: str) -> AnalyticsJob:
        """Return a job, or raise NotFoundError."""
        job = await repository.get_job(session, job_id)
        if job is None:
            raise NotFoundError(f"no analytics job with id {job_id!r}")
        return job

    async def list_jobs(
        self, session: AsyncSession, *, status: str | None, before: datetime | None, limit: int
    ) -> list[AnalyticsJob]:
        """Return jobs newest first."""
        return list(await repository.list_jobs(session, status=status, before=before, limit=limit))

    async def cancel(
        self, session: AsyncSession, job_id: str, *, actor: str, acting_as: str | None = None
    ) -> AnalyticsJob:
        """Stop a job: workers start no new calls and abandon the ones in flight."""
        job = await repository.get_job(session, job_id, lock=True)
        if job is None:
            raise NotFoundError(f"no analytics job with id {job_id!r}")
        if job.status in (JobStatus.COMPLETED, JobStatus.CANCELLED):
            raise ConflictError(f"job {job_id} is already {job.status}")
        job.status = JobStatus.CANCELLED
        job.reason = "cancelled; finished results are kept, resume to judge the rest"
        job.updated_at = job.finished_at = utcnow()
        self._audit(session, job, "cancelled", actor, acting_as)
        return job

    async def resume(
        self,
        session: AsyncSession,
        job_id: str,
        *,
        actor: str,
        acting_as: str | None = None,
        max_cost_usd: float | None = None,
    ) -> AnalyticsJob:
        """Queue a paused, cancelled or failed job again, optionally with a new cost cap."""
        job = await repository.get_job(session, job_id, lock=True)
        if job is None:
            raise NotFoundError(f"no analytics job with id {job_id!r}")
        if job.status not in RESUMABLE_STATUSES:
            raise ConflictError(
                f"job {job_id} is {job.status}; only paused, cancelled or failed jobs resume"
            )
        if max_cost_usd is not None:
            job.max_cost_usd = max_cost_usd
        self._requeue(job)
        self._audit(session, job, "resumed", actor, acting_as, {"max_cost_usd": max_cost_usd})
        return job

    def _requeue(self, job: AnalyticsJob) -> None:
        if job.status in RESUMABLE_STATUSES:
            job.status = JobStatus.QUEUED
            job.reason = None
            job.finished_at = None
            job.updated_at = utcnow()

    async def results(
        self,
        session: AsyncSession,
        job_id: str,
        *,
        after: int | None,
        limit: int,
        status: str | None = None,
    ) -> list[JobResult]:
        """Return a page of a job's results in selection order."""
        await self.get(session, job_id)
        rows = await repository.results_page(
            session, job_id, after_id=after, limit=limit, status=status
        )
        return [job_result(item, execution) for item, execution in rows]

    async def iter_results(
        self, session: AsyncSession, job_id: str, *, status: str | None = None, page: int = 500
    ) -> AsyncIterator[JobResult]:
        """Yield all of a job's results, one page in memory at a time."""
        after: int | None = None
        while True:
            batch = await self.results(session, job_id, after=after, limit=page, status=status)
            for result in batch:
                yield result
            if len(batch) < page:
                return
            after = batch[-1].item_id

    async def report(self, session: AsyncSession, job_id: str) -> ExecutionAnalyticsResponse:
        """Return a finished job as AutoGPT's analytics report."""
        job = await self.get(session, job_id)
        results = [
            ExecutionAnalyticsResult.model_validate(r.model_dump())
            async for r in self.iter_results(session, job_id)
        ]
        return ExecutionAnalyticsResponse(
            total_executions=job.succeeded + job.failed + job.skipped,
            processed_executions=job.succeeded + job.failed,
            successful_analytics=job.succeeded,
            failed_analytics=job.failed,
            skipped_executions=job.skipped,
            results=results,
        )

    async def events(
        self, database: Database, job_id: str, *, after: int = 0, poll: float = 0.5
    ) -> AsyncIterator[tuple[str, str | None, str]]:
        """Yield (event, id, data) for a job: progress snapshots and each finished item.

        Items carry their finish position as the event id, so a client that reconnects
        with Last-Event-ID misses nothing. The stream ends once the job stops.
        """
        previous = None
        while True:
            async with database.read() as session:
                job = await self.get(session, job_id)
                rows = await repository.finished_after(session, job_id, after, EVENT_BATCH)
            for item, execution in rows:
                after = item.done_order or after
                yield "item", str(after), job_result(item, execution).model_dump_json()
            progress = job_out(job).model_dump_json()
            if progress != previous:
                yield "progress", None, progress
                previous = progress
            if len(rows) == EVENT_BATCH:
                continue
            if job.status not in ACTIVE_STATUSES:
                yield "end", None, progress
                return
            await asyncio.sleep(poll)

    async def csv_rows(
        self, database: Database, job_id: str, *, status: str | None = None, page: int = 500
    ) -> AsyncIterator[str]:
        """Yield a job's results as CSV, one page at a time.

        Each page is read in its own short session, closed before the page is yielded: a
        client that reads slowly holds no database connection while it reads.
        """
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        after: int | None = None
        while True:
            async with database.read() as session:
                batch = await self.results(session, job_id, after=after, limit=page, status=status)
            for result in batch:
                row = result.model_dump(mode="json", include=set(CSV_COLUMNS))
                writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(batch) < page:
                return
            after = batch[-1].item_id


analytics_service = AnalyticsService()
