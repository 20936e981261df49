"""staged OTLP spans compressed with lz4 on PostgreSQL, not pglz

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 10:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("resource", "spans")


def _lz4_available() -> bool:
    # A server built without lz4 refuses the method: it keeps pglz there.
    bind = op.get_bind()
    found = bind.exec_driver_sql(
        "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
        "AND 'lz4' = ANY(enumvals)"
    ).first()
    return found is not None


def upgrade() -> None:
    # Staged spans of a few long traces per request exceed the TOAST threshold (2 kB):
    # compressing them with pglz cost PostgreSQL more CPU than the rest of the insert.
    # SQLite compresses nothing.
    if op.get_bind().dialect.name != "postgresql" or not _lz4_available():
        return
    for column in _COLUMNS:
        op.execute(f"ALTER TABLE otlp_staged_spans ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in _COLUMNS:
        op.execute(f"ALTER TABLE otlp_staged_spans ALTER COLUMN {column} SET COMPRESSION default")
