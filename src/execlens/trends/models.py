"""Storage models of the alerts the monitor raises: accuracy drops and evaluator health."""

from datetime import datetime
from typing import Literal

from sqlalchemy import JSON, Float, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from execlens.db.base import Base, UTCDateTime

# The user scope of an alert on all of a graph's runs. Not NULL: a unique index treats
# NULLs as distinct, and would then allow two open alerts for the same graph.
ALL_USERS = ""

# How the 3/7/14-day averages count days: calendar days, or the last n days that had runs.
TrendWindow = Literal["calendar", "rows"]
AlertState = Literal["open", "resolved"]
HealthAlertKind = Literal[
    "rule_backlog", "rule_failures", "judge_failures", "job_stalled", "label_agreement"
]
_OPEN = text("state = 'open'")


class AccuracyAlert(Base):
    __tablename__ = "accuracy_alerts"
    __table_args__ = (
        # One open alert per graph and user scope, enforced by the database: two monitors
        # racing (serve and a CLI monitor, say) cannot both open and notify the same drop.
        Index(
            "uq_accuracy_alerts_open_scope",
            "graph_id",
            "user_scope",
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index("ix_accuracy_alerts_detected", "detected_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    graph_id: Mapped[str] = mapped_column(String(200))
    user_scope: Mapped[str] = mapped_column(String(200), default=ALL_USERS)
    # "open" while the drop lasts, "resolved" once a check finds no drop.
    state: Mapped[str] = mapped_column(String(16))
    # The latest values seen while open.
    drop_percent: Mapped[float] = mapped_column(Float)
    three_day_avg: Mapped[float] = mapped_column(Float)
    seven_day_avg: Mapped[float] = mapped_column(Float)
    window: Mapped[str] = mapped_column(String(16))
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the latest notification was sent, in the transaction that decided to send it,
    # so a second monitor sees it at once; null while no channel is configured.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notifications: Mapped[int] = mapped_column(Integer, default=0)
    # The channels the latest notification failed on, with their errors; never a URL.
    delivery_error: Mapped[str | None] = mapped_column(Text)


class HealthAlert(Base):
    """An evaluator-health alert: a rule's backlog or failures, an agent's judge failures."""

    __tablename__ = "health_alerts"
    __table_args__ = (
        # One open alert per kind and scope, enforced by the database, as for accuracy
        # alerts: two monitors racing cannot both open and notify the same condition.
        Index(
            "uq_health_alerts_open_scope",
            "kind",
            "scope",
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index("ix_health_alerts_detected", "detected_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # rule_backlog, rule_failures, judge_failures, job_stalled or label_agreement.
    kind: Mapped[str] = mapped_column(String(32))
    # The rule id, graph id or job id the condition is about.
    scope: Mapped[str] = mapped_column(String(200))
    # Its name when last checked: a deleted rule keeps a readable alert.
    subject: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16))
    # The latest numbers seen while open: the one compared, its threshold, and the rest.
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    numbers: Mapped[dict[str, float]] = mapped_column(JSON)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notifications: Mapped[int] = mapped_column(Integer, default=0)
    delivery_error: Mapped[str | None] = mapped_column(Text)
