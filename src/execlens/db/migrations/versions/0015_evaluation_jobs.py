"""evaluation jobs: a job whose verdicts do not become the runs' current scores

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 03:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("analytics_jobs") as batch:
        batch.add_column(
            sa.Column("evaluation", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("analytics_jobs") as batch:
        batch.drop_column("evaluation")
