"""Map between jobs' stored rows and their wire shapes: new jobs, progress, results."""

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any, Protocol

from execlens.config import Settings
from execlens.errors import UserError
from execlens.executions.models import Execution
from execlens.jobs.clock import utcnow
from execlens.jobs.models import AnalyticsJob, ItemStatus, JobItem, JobStatus
from execlens.jobs.schemas import (
    ExecutionAnalyticsResult,
    JobCreate,
    JobOut,
    JobResult,
    ProviderLimitOut,
)
from execlens.judge.catalog import ModelEntry
from execlens.judge.prompts import DEFAULT_SYSTEM_PROMPT, DEFAULT_USER_PROMPT, check_prompts
from execlens.judge.prompts import prompt_hash as hash_prompts
from execlens.judge.providers import resolve_model


def params_key(params: JobCreate, model: str) -> str:
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


def provider_limit(job: AnalyticsJob, remaining: int) -> ProviderLimitOut | None:
    """Describe the provider limit a running job is held to, and when it ends at that rate."""
    if job.status != JobStatus.RUNNING or job.paced_by is None:
        return None
    per_minute = [job.paced_rpm or 0.0]
    if job.paced_tpm and job.paced_tokens_per_call:
        per_minute.append(job.paced_tpm / job.paced_tokens_per_call)
    calls = min(c for c in per_minute if c > 0) if any(per_minute) else None
    return ProviderLimitOut(
        limited_by=job.paced_by,
        requests_per_minute=job.paced_rpm,
        tokens_per_minute=job.paced_tpm,
        eta_seconds=remaining * 60 / calls if calls else None,
    )


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
        evaluation=bool(job.evaluation),
        model=job.model,
        provider=job.provider,
        concurrency=job.concurrency,
        requests_per_minute=job.requests_per_minute,
        tokens_per_minute=job.tokens_per_minute,
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
        provider_limit=provider_limit(job, total - done),
        llm_calls=job.llm_calls,
        input_tokens=job.input_tokens,
        output_tokens=job.output_tokens,
        cost_usd=job.cost_usd,
    )


def job_result(item: JobItem, execution: Execution) -> JobResult:
    """Describe one item's outcome in upstream terms, with how it was judged."""
    return JobResult(
        **_result_fields(item, execution),
        item_id=item.id,
        judge=item.judge,
        cost_usd=item.cost_usd,
        judged_at=item.judged_at,
        evidence_kept=item.evidence_kept,
    )


class ItemOutcome(Protocol):
    """What a result shows of a job's item: a JobItem, or a row of the report's read."""

    @property
    def status(self) -> str: ...
    @property
    def summary(self) -> str | None: ...
    @property
    def score(self) -> float | None: ...
    @property
    def error(self) -> str | None: ...


class RunShown(Protocol):
    """What a result shows of the item's run: an Execution, or a row of the report's read."""

    @property
    def id(self) -> str: ...
    @property
    def graph_id(self) -> str: ...
    @property
    def graph_version(self) -> int: ...
    @property
    def user_id(self) -> str: ...
    @property
    def activity_status(self) -> str | None: ...
    @property
    def correctness_score(self) -> float | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def last_changed_at(self) -> datetime | None: ...
    @property
    def started_at(self) -> datetime | None: ...
    @property
    def ended_at(self) -> datetime | None: ...


def analytics_result(item: ItemOutcome, execution: RunShown) -> ExecutionAnalyticsResult:
    """Describe one item's outcome as upstream's report lists it."""
    return ExecutionAnalyticsResult(**_result_fields(item, execution))


def _result_fields(item: ItemOutcome, execution: RunShown) -> dict[str, Any]:
    skipped = item.status == ItemStatus.SKIPPED
    return dict(
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
    )


def _concurrency(settings: Settings, params: JobCreate, entry: ModelEntry) -> int:
    """Return the calls in flight: as asked, else the local model's slots, else batch_size."""
    if params.concurrency is not None:
        return params.concurrency
    if entry.provider == "local" and "batch_size" not in params.model_fields_set:
        return settings.local_model_parallel
    return params.batch_size


def new_job(
    settings: Settings, params: JobCreate, created_by: str, now: datetime | None = None
) -> AnalyticsJob:
    """Return a queued job for ``params``, checked; not stored yet."""
    entry = resolve_model(settings, params.model_name)
    system = params.system_prompt or DEFAULT_SYSTEM_PROMPT
    template = params.user_prompt or DEFAULT_USER_PROMPT
    check_prompts(system, template)
    if params.max_cost_usd is not None and entry.input_price_per_mtok is None:
        raise UserError(
            f"max_cost_usd: the price of model {entry.id!r} is unknown, so a cost cap "
            "cannot be enforced; drop max_cost_usd or pick a model with a known price"
        )
    now = now or utcnow()
    return AnalyticsJob(
        id=str(uuid.uuid4()),
        status=JobStatus.QUEUED,
        created_by=created_by,
        created_at=now,
        updated_at=now,
        params_key=params_key(params, entry.id),
        graph_id=params.graph_id,
        graph_version=params.graph_version,
        user_id=params.user_id,
        created_after=params.created_after,
        created_before=params.created_before,
        max_executions=params.limit,
        skip_existing=params.skip_existing,
        rescore_if_judge_changed=params.rescore_if_judge_changed,
        evaluation=False,
        model=entry.id,
        provider=entry.provider,
        system_prompt=params.system_prompt,
        user_prompt=params.user_prompt,
        prompt_hash=hash_prompts(system, template),
        concurrency=_concurrency(settings, params, entry),
        requests_per_minute=params.requests_per_minute,
        tokens_per_minute=params.tokens_per_minute,
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
