"""Storage model for accuracy alerts raised by the monitor."""

from datetime import datetime
from typing import Literal

from sqlalchemy import Float, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from execlens.db.base import Base, UTCDateTime

# The user scope of an alert on all of a graph's runs. Not NULL: a unique index treats
# NULLs as distinct, and would then allow two open alerts for the same graph.
ALL_USERS = ""

# How the 3/7/14-day averages count days: calendar days, or the last n days that had runs.
TrendWindow = Literal["calendar", "rows"]
AlertState = Literal["open", "resolved"]
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
