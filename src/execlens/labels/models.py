"""Storage model for labels: what a person thinks of a run."""

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from execlens.db.base import Base, UTCDateTime


class Label(Base):
    __tablename__ = "labels"
    # One label per person and run: a new one replaces the old, so the newest counts.
    __table_args__ = (UniqueConstraint("execution_id", "labeler"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    execution_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("executions.id", ondelete="CASCADE")
    )
    # Who gave it: the audit actor ("jwt:<sub>", "api_key:<id>", "cli:<os user>").
    labeler: Mapped[str] = mapped_column(String(300))
    score: Mapped[float] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
