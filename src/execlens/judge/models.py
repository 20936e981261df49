"""Storage model for verdicts: every judgment with its provenance."""

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from execlens.db.base import Base, UTCDateTime


class VerdictRecord(Base):
    __tablename__ = "verdicts"
    __table_args__ = (Index("ix_verdicts_execution_created", "execution_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    execution_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("executions.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    activity_status: Mapped[str] = mapped_column(Text)
    correctness_score: Mapped[float] = mapped_column(Float)
    score_clamped_from: Mapped[float | None] = mapped_column(Float)
    # "llm" or "rules"; rules verdicts have no model, tokens or cost.
    judge: Mapped[str] = mapped_column(String(16))
    judge_version: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(200))
    prompt_hash: Mapped[str] = mapped_column(String(16))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    digest_tokens: Mapped[int | None] = mapped_column(Integer)
    digest_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    # Share of the run's text the digest kept; null for rules verdicts and older verdicts.
    evidence_kept: Mapped[float | None] = mapped_column(Float)
