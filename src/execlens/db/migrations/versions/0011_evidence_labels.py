"""evidence kept by each verdict's digest, and human labels of runs

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("verdicts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence_kept", sa.Float(), nullable=True))
    with op.batch_alter_table("analytics_job_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence_kept", sa.Float(), nullable=True))
    op.create_table(
        "labels",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("execution_id", sa.String(length=200), nullable=False),
        sa.Column("labeler", sa.String(length=300), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_labels_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labels")),
        sa.UniqueConstraint("execution_id", "labeler", name=op.f("uq_labels_execution_id_labeler")),
    )


def downgrade() -> None:
    op.drop_table("labels")
    with op.batch_alter_table("analytics_job_items", schema=None) as batch_op:
        batch_op.drop_column("evidence_kept")
    with op.batch_alter_table("verdicts", schema=None) as batch_op:
        batch_op.drop_column("evidence_kept")
