"""analytics jobs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("params_key", sa.String(length=64), nullable=False),
        sa.Column("graph_id", sa.String(length=200), nullable=False),
        sa.Column("graph_version", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("created_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_executions", sa.Integer(), nullable=True),
        sa.Column("skip_existing", sa.Boolean(), nullable=False),
        sa.Column("rescore_if_judge_changed", sa.Boolean(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=True),
        sa.Column("user_prompt", sa.Text(), nullable=True),
        sa.Column("prompt_hash", sa.String(length=16), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("requests_per_minute", sa.Integer(), nullable=True),
        sa.Column("max_cost_usd", sa.Float(), nullable=True),
        sa.Column("est_cost_per_item", sa.Float(), nullable=True),
        sa.Column("selection_done", sa.Boolean(), nullable=False),
        sa.Column("cursor_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor_id", sa.String(length=200), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("selected", sa.Integer(), nullable=False),
        sa.Column("to_judge", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("done_count", sa.Integer(), nullable=False),
        sa.Column("llm_calls", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("rate_tokens", sa.Float(), nullable=True),
        sa.Column("rate_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at_run_start", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_jobs")),
    )
    with op.batch_alter_table("analytics_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_analytics_jobs_params_key"), ["params_key"], unique=False
        )
        batch_op.create_index(
            "ix_analytics_jobs_status_created", ["status", "created_at"], unique=False
        )

    op.create_table(
        "analytics_workers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("hostname", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_workers")),
    )
    op.create_table(
        "analytics_job_items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("execution_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done_order", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("judge", sa.String(length=16), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("judged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("judged_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_analytics_job_items_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["analytics_jobs.id"],
            name=op.f("fk_analytics_job_items_job_id_analytics_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_job_items")),
        sa.UniqueConstraint(
            "job_id", "execution_id", name=op.f("uq_analytics_job_items_job_id_execution_id")
        ),
    )
    with op.batch_alter_table("analytics_job_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_analytics_job_items_claim", ["job_id", "status", "id"], unique=False
        )
        batch_op.create_index("ix_analytics_job_items_done", ["job_id", "done_order"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("analytics_job_items", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_job_items_done")
        batch_op.drop_index("ix_analytics_job_items_claim")

    op.drop_table("analytics_job_items")
    op.drop_table("analytics_workers")
    with op.batch_alter_table("analytics_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_jobs_status_created")
        batch_op.drop_index(batch_op.f("ix_analytics_jobs_params_key"))

    op.drop_table("analytics_jobs")
