"""provider pacing: one rate budget per provider key, a job's tokens per minute, its limit

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JOB_COLUMNS = (
    ("tokens_per_minute", sa.Integer()),
    ("paced_by", sa.String(length=16)),
    ("paced_rpm", sa.Float()),
    ("paced_tpm", sa.Float()),
    ("paced_tokens_per_call", sa.Float()),
)


def upgrade() -> None:
    op.create_table(
        "provider_rate_buckets",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("requests", sa.Float(), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requests_per_minute", sa.Float(), nullable=True),
        sa.Column("tokens_per_minute", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_provider_rate_buckets")),
    )
    with op.batch_alter_table("analytics_jobs") as batch:
        for name, type_ in _JOB_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("analytics_jobs") as batch:
        for name, _ in reversed(_JOB_COLUMNS):
            batch.drop_column(name)
    op.drop_table("provider_rate_buckets")
