"""otlp: spans staged until their trace ends, and each OTLP trace's state

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 00:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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
    op.create_table(
        "otlp_traces",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("first_received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("root_span_id", sa.String(length=16), nullable=True),
        sa.Column("execution_id", sa.String(length=200), nullable=True),
        sa.Column("span_count", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("assembled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("trace_id", name=op.f("pk_otlp_traces")),
    )
    with op.batch_alter_table("otlp_traces") as batch:
        batch.create_index("ix_otlp_traces_state_last", ["state", "last_received_at"])
        batch.create_index(batch.f("ix_otlp_traces_execution_id"), ["execution_id"])


def downgrade() -> None:
    op.drop_table("otlp_traces")
    op.drop_table("otlp_spans")
