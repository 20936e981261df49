"""job items by verdict time: the monitor's failure counts and the rules' spend and lag

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 04:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every health check and every rule pass reads "items judged since T"; without this
    # index each one scans all job items ever judged.
    op.create_index("ix_analytics_job_items_judged", "analytics_job_items", ["judged_at"])


def downgrade() -> None:
    op.drop_index("ix_analytics_job_items_judged", table_name="analytics_job_items")
