"""otlp: stage one row per trace per request instead of one per span

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 07:00:00
"""

import base64
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from opentelemetry.proto.trace.v1.trace_pb2 import ScopeSpans, Span

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


_OLD = sa.table(
    "otlp_spans",
    sa.column("trace_id", sa.String),
    sa.column("span_id", sa.String),
    sa.column("parent_span_id", sa.String),
    sa.column("received_at", sa.DateTime(timezone=True)),
    sa.column("resource", sa.Text),
    sa.column("span", sa.Text),
)
_NEW = sa.table(
    "otlp_staged_spans",
    sa.column("trace_id", sa.String),
    sa.column("batch_id", sa.String),
    sa.column("received_at", sa.DateTime(timezone=True)),
    sa.column("span_count", sa.Integer),
    sa.column("resource", sa.Text),
    sa.column("spans", sa.Text),
)


def _create_new() -> None:
    op.create_table(
        "otlp_staged_spans",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("span_count", sa.Integer(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("spans", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("trace_id", "batch_id", name=op.f("pk_otlp_staged_spans")),
    )


def _create_old() -> None:
    op.create_table(
        "otlp_spans",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("parent_span_id", sa.String(length=16), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("span", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("trace_id", "span_id", name=op.f("pk_otlp_spans")),
    )


def upgrade() -> None:
    _create_new()
    # Spans waiting for their trace when the upgrade runs are kept, one row each.
    bind = op.get_bind()
    rows = [
        {
            "trace_id": row.trace_id,
            "batch_id": uuid.uuid4().hex,
            "received_at": row.received_at,
            "span_count": 1,
            "resource": row.resource,
            "spans": b64(ScopeSpans(spans=[Span.FromString(unb64(row.span))]).SerializeToString()),
        }
        for row in bind.execute(sa.select(_OLD))
    ]
    if rows:
        bind.execute(_NEW.insert(), rows)
    op.drop_table("otlp_spans")


def downgrade() -> None:
    _create_old()
    bind = op.get_bind()
    spans: dict[tuple[str, str], dict[str, object]] = {}
    stmt = sa.select(_NEW).order_by(_NEW.c.received_at, _NEW.c.batch_id)
    for row in bind.execute(stmt):
        for span in ScopeSpans.FromString(unb64(row.spans)).spans:
            span_id = span.span_id.hex()
            spans[(row.trace_id, span_id)] = {
                "trace_id": row.trace_id,
                "span_id": span_id,
                "parent_span_id": span.parent_span_id.hex() or None,
                "received_at": row.received_at,
                "resource": row.resource,
                "span": b64(span.SerializeToString()),
            }
    if spans:
        bind.execute(_OLD.insert(), list(spans.values()))
    op.drop_table("otlp_staged_spans")
