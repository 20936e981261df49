"""Storage of judging rules and of the runs each rule matched."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from execlens.db.base import Base, UTCDateTime


class JudgingRule(Base):
    """Which new finished runs to judge, with which model, within what daily budget."""

    __tablename__ = "judging_rules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # None: every agent.
    graph_id: Mapped[str | None] = mapped_column(String(200))
    statuses: Mapped[list[str]] = mapped_column(JSON)
    sample_rate: Mapped[float] = mapped_column(Float)
    model: Mapped[str] = mapped_column(String(200))
    system_prompt: Mapped[str | None] = mapped_column(Text)
    user_prompt: Mapped[str | None] = mapped_column(Text)
    daily_budget_usd: Mapped[float | None] = mapped_column(Float)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The newest arrival time read; each pass reads again a little before it (see service).
    cursor_arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RuleMatch(Base):
    """A run a rule has seen: sampled in (handed to a job) or out. Seen once, never again."""

    __tablename__ = "rule_matches"
    # Which rule took a run (another rule leaves it alone), and a run's deletion, whose
    # cascade finds its matches by this column.
    __table_args__ = (Index("ix_rule_matches_execution", "execution_id"),)

    rule_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("judging_rules.id", ondelete="CASCADE"), primary_key=True
    )
    execution_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True
    )
    sampled: Mapped[bool] = mapped_column(Boolean)
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime)
