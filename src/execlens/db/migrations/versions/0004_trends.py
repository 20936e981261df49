"""accuracy alerts; a covering partial index of finished runs for trends

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("state = 'open'")
_FINISHED = sa.text("status IN ('COMPLETED', 'FAILED', 'TERMINATED')")


def upgrade() -> None:
    op.create_table(
        "accuracy_alerts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("graph_id", sa.String(length=200), nullable=False),
        sa.Column("user_scope", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("drop_percent", sa.Float(), nullable=False),
        sa.Column("three_day_avg", sa.Float(), nullable=False),
        sa.Column("seven_day_avg", sa.Float(), nullable=False),
        sa.Column("window", sa.String(length=16), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notifications", sa.Integer(), nullable=False),
        sa.Column("delivery_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accuracy_alerts")),
    )
    with op.batch_alter_table("accuracy_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_accuracy_alerts_detected", ["detected_at"], unique=False)
        batch_op.create_index(
            "uq_accuracy_alerts_open_scope",
            ["graph_id", "user_scope"],
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        )
    # The trends query reads a graph's finished runs in a date range from this index
    # alone: it holds their time, score and user, and nothing else.
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_executions_graph_finished",
            ["graph_id", "created_at", "correctness_score", "user_id", "status"],
            unique=False,
            sqlite_where=_FINISHED,
            postgresql_where=_FINISHED,
        )


def downgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index("ix_executions_graph_finished")
    with op.batch_alter_table("accuracy_alerts", schema=None) as batch_op:
        batch_op.drop_index("uq_accuracy_alerts_open_scope")
        batch_op.drop_index("ix_accuracy_alerts_detected")
    op.drop_table("accuracy_alerts")
