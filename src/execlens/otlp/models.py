"""Storage of OTLP ingestion: spans waiting for their trace to end, and each trace's state."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from execlens.db.base import Base, UTCDateTime


class TraceState(StrEnum):
    PENDING = "pending"
    ASSEMBLED = "assembled"


class StagedSpan(Base):
    """One received span, kept as sent until its trace is assembled, then deleted.

    The span and its resource are kept as serialized protobuf (base64 text): ingesting
    then costs no mapping, and assembly reads every field the conventions may need.
    """

    __tablename__ = "otlp_spans"

    trace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    span_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    parent_span_id: Mapped[str | None] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resource: Mapped[str] = mapped_column(Text)
    span: Mapped[str] = mapped_column(Text)


class OtlpTrace(Base):
    """A trace seen by OTLP: when its spans arrived, whether its root ended, what it became."""

    __tablename__ = "otlp_traces"
    __table_args__ = (Index("ix_otlp_traces_state_last", "state", "last_received_at"),)

    trace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    first_received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set once the root span (no parent) has arrived; spans are exported when they end.
    root_span_id: Mapped[str | None] = mapped_column(String(16))
    execution_id: Mapped[str | None] = mapped_column(String(200), index=True)
    span_count: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    assembled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
