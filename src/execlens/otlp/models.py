"""Storage of OTLP ingestion: spans waiting for their trace to end, and each trace's state."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from execlens.db.base import Base, UTCDateTime


class TraceState(StrEnum):
    PENDING = "pending"
    ASSEMBLED = "assembled"


class StagedSpans(Base):
    """The spans of one trace from one request, kept as sent until the trace is assembled.

    One row per trace per request, not per span: ingest writes and assembly reads far
    fewer rows. The spans are a serialized protobuf ``ScopeSpans`` and the resource a
    serialized ``Resource``, as bytes (bytea, blob): ingesting costs no mapping and no
    encoding, and assembly reads every field the conventions may need. A span sent again
    in a later request is found in a later row (``received_at``, then ``batch_id``):
    assembly keeps the last one.
    """

    __tablename__ = "otlp_staged_spans"

    trace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Random per request, so that concurrent requests never write the same row, and
    # numbered per resource within it.
    batch_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    span_count: Mapped[int] = mapped_column(Integer)
    resource: Mapped[bytes] = mapped_column(LargeBinary)
    spans: Mapped[bytes] = mapped_column(LargeBinary)


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
