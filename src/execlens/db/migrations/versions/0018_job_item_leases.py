"""job items by lease owner: a worker's heartbeat and release read only its own items

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 08:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every heartbeat renews, and every stop releases, the items one worker leases; without
    # this index each one scans every job item ever created.
    op.create_index(
        "ix_analytics_job_items_lease", "analytics_job_items", ["lease_owner", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_analytics_job_items_lease", table_name="analytics_job_items")
