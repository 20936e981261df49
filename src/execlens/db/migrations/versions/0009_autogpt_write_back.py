"""autogpt write-back: the verdict last handled for each synced run, and whether
AutoGPT's own summary and score were kept instead of it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN on both databases. A batch would reflect the
    # table and the executions it refers to, whose expression index SQLAlchemy cannot
    # reflect: every new SQLite database printed a warning about it.
    op.add_column("autogpt_runs", sa.Column("written_summary", sa.Text(), nullable=True))
    op.add_column("autogpt_runs", sa.Column("written_score", sa.Float(), nullable=True))
    op.add_column(
        "autogpt_runs",
        sa.Column("kept_theirs", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("autogpt_runs") as batch:
        batch.drop_column("kept_theirs")
        batch.drop_column("written_score")
        batch.drop_column("written_summary")
