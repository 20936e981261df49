"""judging rules: when each run arrived finished, the rules, the runs each rule
matched, and the jobs that judge them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a default: SQLite adds it in place, no table copy (which
    # would also drop the expression index of migration 0006).
    op.add_column("executions", sa.Column("arrived_at", sa.DateTime(timezone=True)))
    op.create_index("ix_executions_arrived", "executions", ["arrived_at", "id"])
    op.create_table(
        "judging_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("graph_id", sa.String(length=200), nullable=True),
        sa.Column("statuses", sa.JSON(), nullable=False),
        sa.Column("sample_rate", sa.Float(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=True),
        sa.Column("user_prompt", sa.Text(), nullable=True),
        sa.Column("daily_budget_usd", sa.Float(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cursor_arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judging_rules")),
    )
    op.create_table(
        "rule_matches",
        sa.Column("rule_id", sa.String(length=36), nullable=False),
        sa.Column("execution_id", sa.String(length=200), nullable=False),
        sa.Column("sampled", sa.Boolean(), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["judging_rules.id"],
            name=op.f("fk_rule_matches_rule_id_judging_rules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_rule_matches_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rule_id", "execution_id", name=op.f("pk_rule_matches")),
    )
    with op.batch_alter_table("analytics_jobs") as batch:
        batch.add_column(sa.Column("rule_id", sa.String(length=36), nullable=True))
        batch.create_index("ix_analytics_jobs_rule", ["rule_id", "status"])


def downgrade() -> None:
    with op.batch_alter_table("analytics_jobs") as batch:
        batch.drop_index("ix_analytics_jobs_rule")
        batch.drop_column("rule_id")
    op.drop_table("rule_matches")
    op.drop_table("judging_rules")
    op.drop_index("ix_executions_arrived", table_name="executions")
    op.drop_column("executions", "arrived_at")
