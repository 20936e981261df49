"""Storage models for graphs, executions and node executions."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, query_expression

from execlens.db.base import Base, JSONValue, UTCDateTime


class ExecutionStatus(StrEnum):
    INCOMPLETE = "INCOMPLETE"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"
    FAILED = "FAILED"
    REVIEW = "REVIEW"


FINISHED_STATUSES = (
    ExecutionStatus.COMPLETED,
    ExecutionStatus.FAILED,
    ExecutionStatus.TERMINATED,
)

# Spelled out, not bound: SQLite and PostgreSQL use a partial index only when the query
# repeats its condition with the same constants.
FINISHED_CONDITION = text(
    "status IN (" + ", ".join(f"'{status.value}'" for status in FINISHED_STATUSES) + ")"
)

# Stored as VARCHAR with a CHECK constraint on both databases, so adding a status
# later is a plain migration rather than an ALTER TYPE on PostgreSQL.
StatusColumn = Enum(
    ExecutionStatus,
    name="execution_status",
    native_enum=False,
    create_constraint=True,
    length=16,
    validate_strings=True,
)


class Graph(Base):
    __tablename__ = "graphs"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    nodes: Mapped[list[dict[str, Any]]] = mapped_column(JSONValue)
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSONValue)


class Execution(Base):
    __tablename__ = "executions"
    __table_args__ = (
        # Trends and per-agent listings read this index; it also carries keyset order.
        Index("ix_executions_graph_created", "graph_id", "created_at", "id"),
        # Trends read ix_executions_graph_day_finished alone, never the table. It indexes
        # the UTC day number, an expression that differs per dialect, so migration 0006
        # alone defines it.
        Index("ix_executions_created", "created_at", "id"),
        Index("ix_executions_user_created", "user_id", "created_at"),
        # Judging rules read new finished runs in the order they arrived.
        Index("ix_executions_arrived", "arrived_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    # No foreign key to graphs: an execution may arrive before its graph.
    graph_id: Mapped[str] = mapped_column(String(200))
    graph_version: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[ExecutionStatus] = mapped_column(StatusColumn)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cost_cents: Mapped[int | None] = mapped_column(Integer)
    walltime: Mapped[float | None] = mapped_column(Float)
    cputime: Mapped[float | None] = mapped_column(Float)
    node_count: Mapped[int | None] = mapped_column(Integer)
    node_error_count: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    activity_status: Mapped[str | None] = mapped_column(Text)
    correctness_score: Mapped[float | None] = mapped_column(Float)
    # When execlens first stored the run finished, by any way in (REST, import, sync, ...).
    # Null for a run stored unfinished until it is stored again finished.
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Not stored: when the run last changed, filled in only by queries that ask for it
    # (analytics results, whose upstream shape has an `updated_at`).
    last_changed_at: Mapped[datetime | None] = query_expression()


class NodeExecution(Base):
    __tablename__ = "node_executions"
    __table_args__ = (Index("ix_node_executions_execution", "execution_id", "queued_at"),)

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    execution_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("executions.id", ondelete="CASCADE")
    )
    node_id: Mapped[str] = mapped_column(String(200))
    block_name: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[ExecutionStatus] = mapped_column(StatusColumn)
    input_data: Mapped[Any] = mapped_column(JSONValue, nullable=True)
    output_data: Mapped[Any] = mapped_column(JSONValue, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The node execution that called this one, when the source says (an OTLP parent span).
    parent_id: Mapped[str | None] = mapped_column(String(200))
