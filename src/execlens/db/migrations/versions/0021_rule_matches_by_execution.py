"""rule matches by execution: which rule took a run, and deleting a run without a scan

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 19:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_rule_matches_execution", "rule_matches", ["execution_id"])


def downgrade() -> None:
    op.drop_index("ix_rule_matches_execution", table_name="rule_matches")
