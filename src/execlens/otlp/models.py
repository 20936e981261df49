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
    """Spans staged by execlens before migration 0022, until assembly writes them as now.

    Ingest writes each span as its node execution when it arrives; nothing is staged.
    The table stays so that spans staged before an upgrade are not lost.

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
    """A trace seen by OTLP: when its spans arrived, whether its root ended, what it became.

    While pending, its spans are the node executions of a RUNNING execution with the
    trace's id (``execution_id``), hidden from judging and trends until it finishes.
    """

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
    # What finishing the run needs from attributes its node executions do not keep: the
    # agent named by the root span (else the first one named), the service, the user.
    agent_name: Mapped[str | None] = mapped_column(String(200))
    service_name: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[str | None] = mapped_column(String(200))
    # Input and output values cut to EXECLENS_OTLP_MAX_VALUE_CHARS as they arrived.
    trimmed_values: Mapped[int] = mapped_column(Integer, server_default="0")
    # Spans not stored because the trace had more than EXECLENS_OTLP_MAX_SPANS_PER_TRACE.
    dropped_spans: Mapped[int] = mapped_column(Integer, server_default="0")
