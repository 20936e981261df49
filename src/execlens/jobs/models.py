"""Storage models for analytics jobs, their work items and the workers that run them."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from execlens.db.base import Base, UTCDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants a BIGINT.
ItemId = BigInteger().with_variant(Integer(), "sqlite")


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    FAILED = "failed"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class ItemStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"


class AnalyticsJob(Base):
    __tablename__ = "analytics_jobs"
    __table_args__ = (
        Index("ix_analytics_jobs_status_created", "status", "created_at"),
        Index("ix_analytics_jobs_rule", "rule_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Hash of the selection and judge parameters: `execlens analyze` resumes a job
    # with the same key instead of starting over.
    params_key: Mapped[str] = mapped_column(String(64), index=True)

    # What to judge. A judging rule's job holds the runs the rule picked, as items from
    # the start (its selection is done when it is created).
    rule_id: Mapped[str | None] = mapped_column(String(36))
    graph_id: Mapped[str] = mapped_column(String(200))
    graph_version: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[str | None] = mapped_column(String(200))
    created_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_executions: Mapped[int | None] = mapped_column(Integer)
    skip_existing: Mapped[bool] = mapped_column(Boolean)
    rescore_if_judge_changed: Mapped[bool] = mapped_column(Boolean)
    # An evaluation (`execlens judge-eval`) judges labelled runs with a candidate judge:
    # its verdicts join the runs' history but never become their current summary and
    # score, so trying a model cannot move the accuracy trends or alerts.
    evaluation: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    # How to judge.
    model: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(64))
    system_prompt: Mapped[str | None] = mapped_column(Text)
    user_prompt: Mapped[str | None] = mapped_column(Text)
    prompt_hash: Mapped[str] = mapped_column(String(16))
    concurrency: Mapped[int] = mapped_column(Integer)
    requests_per_minute: Mapped[int | None] = mapped_column(Integer)
    tokens_per_minute: Mapped[int | None] = mapped_column(Integer)
    max_cost_usd: Mapped[float | None] = mapped_column(Float)
    est_cost_per_item: Mapped[float | None] = mapped_column(Float)

    # Selection streams in keyset chunks; the cursor moves in the same transaction
    # that inserts a chunk's items, so a crash never selects a run twice or misses one.
    selection_done: Mapped[bool] = mapped_column(Boolean, default=False)
    cursor_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cursor_id: Mapped[str | None] = mapped_column(String(200))
    total: Mapped[int] = mapped_column(Integer, default=0)
    selected: Mapped[int] = mapped_column(Integer, default=0)
    to_judge: Mapped[int] = mapped_column(Integer, default=0)

    # Counters move in the same transaction as the item they count.
    succeeded: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    done_count: Mapped[int] = mapped_column(Integer, default=0)
    llm_calls: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)

    # Token bucket for requests_per_minute, shared by every worker through this row.
    rate_tokens: Mapped[float | None] = mapped_column(Float)
    rate_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # What held the last claim back when the provider key's limit did ("requests",
    # "tokens", "backoff"), and that limit: the progress shows it.
    paced_by: Mapped[str | None] = mapped_column(String(16))
    paced_rpm: Mapped[float | None] = mapped_column(Float)
    paced_tpm: Mapped[float | None] = mapped_column(Float)
    paced_tokens_per_call: Mapped[float | None] = mapped_column(Float)

    # For rate and ETA: when the current run began and how much was done before it.
    run_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at_run_start: Mapped[int] = mapped_column(Integer, default=0)


class JobItem(Base):
    __tablename__ = "analytics_job_items"
    __table_args__ = (
        UniqueConstraint("job_id", "execution_id"),
        Index("ix_analytics_job_items_claim", "job_id", "status", "id"),
        Index("ix_analytics_job_items_done", "job_id", "done_order"),
        Index("ix_analytics_job_items_judged", "judged_at"),
        Index("ix_analytics_job_items_lease", "lease_owner", "status"),
    )

    id: Mapped[int] = mapped_column(ItemId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("analytics_jobs.id", ondelete="CASCADE")
    )
    execution_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("executions.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Gap-free order in which items finished, for event streams that resume.
    done_order: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    judge: Mapped[str | None] = mapped_column(String(16))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    evidence_kept: Mapped[float | None] = mapped_column(Float)
    judged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    judged_by: Mapped[str | None] = mapped_column(String(64))


class WorkerRecord(Base):
    __tablename__ = "analytics_workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # "service" for `serve` and `execlens worker`; "cli" for a job run by `analyze` itself.
    kind: Mapped[str] = mapped_column(String(16))
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProviderBucket(Base):
    """One provider key's rate budget, shared by every job, rule and worker on the database.

    ``key`` is a hash of the base URL and API key, never the key itself.
    """

    __tablename__ = "provider_rate_buckets"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    requests: Mapped[float] = mapped_column(Float)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The limits last announced to any worker, for workers that have not heard them yet.
    requests_per_minute: Mapped[float | None] = mapped_column(Float)
    tokens_per_minute: Mapped[float | None] = mapped_column(Float)
