"""used sign-in links

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "used_sign_in_links",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_used_sign_in_links")),
    )
    with op.batch_alter_table("used_sign_in_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_used_sign_in_links_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("used_sign_in_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_sign_in_links_expires_at"))
    op.drop_table("used_sign_in_links")
