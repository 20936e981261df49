"""Wire formats for analytics: the upstream-compatible request and report, and jobs."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from execlens.judge.prompts import MAX_PROMPT_CHARS
from execlens.timestamps import in_utc as _utc

MAX_CONCURRENCY = 64
MAX_PAGE = 1_000
# Event ids are finish positions (32-bit columns); result cursors are item ids (64-bit).
MAX_EVENT_ID = 2**31 - 1
MAX_ITEM_ID = 2**63 - 1


# execlens.timestamps.UTCTimestamp: naive means UTC, a time UTC cannot hold is a 422.
Timestamp = Annotated[datetime, AfterValidator(_utc)]
Prompt = Annotated[str, Field(max_length=MAX_PROMPT_CHARS)]


class AnalyticsSelection(BaseModel):
    """Which finished executions of one agent to judge, and how: AutoGPT's request fields."""

    graph_id: str = Field(min_length=1, max_length=200, description="Graph ID to analyze.")
    graph_version: int | None = Field(default=None, ge=0, le=2**31 - 1)
    user_id: str | None = Field(default=None, max_length=200)
    created_after: Timestamp | None = None
    model_name: str | None = Field(
        default=None, max_length=200, description="Judge model; default: the recommended one."
    )
    batch_size: int = Field(
        default=10, ge=1, le=25, description="How many executions are judged at once."
    )
    system_prompt: Prompt | None = None
    user_prompt: Prompt | None = Field(
        default=None,
        description="Template with {{GRAPH_NAME}} and {{EXECUTION_DATA}} placeholders.",
    )
    skip_existing: bool = Field(
        default=True,
        description="Skip executions that already have both a summary and a score.",
    )


class JobCreate(AnalyticsSelection):
    """An analytics job: the upstream request plus selection, pacing and cost limits."""

    # Unknown fields are errors: a typo such as "max_cost" must not drop the cap silently.
    model_config = ConfigDict(extra="forbid")

    created_before: Timestamp | None = None
    limit: int | None = Field(
        default=None, ge=1, le=10_000_000, description="Judge at most this many executions."
    )
    max_cost_usd: float | None = Field(
        default=None, gt=0, le=1_000_000, description="Pause the job before spending more."
    )
    concurrency: int | None = Field(
        default=None,
        ge=1,
        le=MAX_CONCURRENCY,
        description="LLM calls in flight at once; default: batch_size.",
    )
    requests_per_minute: int | None = Field(default=None, ge=1, le=100_000)
    tokens_per_minute: int | None = Field(
        default=None,
        ge=100,
        le=1_000_000_000,
        description="At most this many LLM tokens per minute (in and out); it also caps "
        "what the provider announces.",
    )
    rescore_if_judge_changed: bool = Field(
        default=False,
        description="With skip_existing, still re-judge runs whose latest verdict came from "
        "another model, prompt or judge version.",
    )

    @model_validator(mode="after")
    def _window(self) -> "JobCreate":
        if self.created_after and self.created_before and self.created_after >= self.created_before:
            raise ValueError("created_after must be earlier than created_before")
        return self


class JobResume(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_cost_usd: float | None = Field(
        default=None, gt=0, le=1_000_000, description="A new cost cap, e.g. after a pause."
    )


class ExecutionAnalyticsResult(BaseModel):
    agent_id: str
    version_id: int
    user_id: str
    exec_id: str
    summary_text: str | None
    score: float | None
    status: Literal["success", "failed", "skipped"]
    error_message: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = Field(
        default=None, description="When the run last changed: its latest verdict, else its end."
    )
    started_at: datetime | None = None
    ended_at: datetime | None = None


class ExecutionAnalyticsResponse(BaseModel):
    total_executions: int
    processed_executions: int
    successful_analytics: int
    failed_analytics: int
    skipped_executions: int
    results: list[ExecutionAnalyticsResult]


class JobAccepted(BaseModel):
    job_id: str
    status: str
    resumed: bool = Field(description="True when an unfinished job with these settings resumed.")


class JobEstimate(BaseModel):
    """What a job would do, before it spends anything."""

    model: str
    provider: str
    matching_executions: int = Field(description="Finished executions that match the filters.")
    to_judge: int = Field(description="Of those, how many would be judged (the rest skipped).")
    sampled: int = Field(description="Executions whose prompts were built to estimate tokens.")
    judged_by_rules: float = Field(description="Share of the sample settled by rules, at $0.")
    input_tokens: int
    output_tokens: int
    cost_usd: float | None = Field(description="Null when the model's price is unknown.")
    cost_per_execution_usd: float | None


class JobOut(BaseModel):
    """A job's parameters, state, counts, progress and spend."""

    id: str
    status: Literal["queued", "running", "paused", "cancelled", "completed", "failed"]
    reason: str | None = Field(description="Why it paused, failed or was cancelled.")
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    graph_id: str
    graph_version: int | None
    user_id: str | None
    created_after: datetime | None
    created_before: datetime | None
    limit: int | None
    skip_existing: bool
    rescore_if_judge_changed: bool
    evaluation: bool = Field(
        description="An `execlens judge-eval` candidate's job: its verdicts do not become "
        "the runs' current summary and score."
    )
    model: str
    provider: str
    concurrency: int
    requests_per_minute: int | None
    tokens_per_minute: int | None
    max_cost_usd: float | None
    custom_prompts: bool
    total: int = Field(description="Executions in the job; final once selection is done.")
    selection_done: bool
    succeeded: int
    failed: int
    skipped: int
    done: int
    remaining: int
    progress: float = Field(description="Done ÷ total, 0 to 1.")
    rate_per_second: float | None
    eta_seconds: float | None
    provider_limit: "ProviderLimitOut | None" = Field(
        default=None,
        description="Set while the provider key's rate limit is what holds the job back.",
    )
    llm_calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


class ProviderLimitOut(BaseModel):
    """The provider's limit a running job is held to, and the time to finish at that rate."""

    limited_by: Literal["requests", "tokens", "backoff"]
    requests_per_minute: float | None
    tokens_per_minute: float | None
    eta_seconds: float | None = Field(description="Time to finish the rest at this limit.")


class JobPage(BaseModel):
    items: list[JobOut]
    next_cursor: str | None


class JobResult(ExecutionAnalyticsResult):
    """One execution's outcome in a job."""

    item_id: int
    judge: str | None = Field(description="llm or rules; null when not judged.")
    cost_usd: float | None
    judged_at: datetime | None
    evidence_kept: float | None = Field(
        default=None, description="Share of the run's text the judge's digest kept (0 to 1)."
    )


class ResultPage(BaseModel):
    items: list[JobResult]
    next_cursor: int | None = Field(description="Pass as `after` for the next page.")
