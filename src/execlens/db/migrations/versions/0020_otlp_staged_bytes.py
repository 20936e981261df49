"""staged OTLP spans as bytes (bytea, blob), not base64 text

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 13:30:00
"""

import base64
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "otlp_staged_spans"
_COLUMNS = ("resource", "spans")


def _lz4_available() -> bool:
    # As in 0019: a server built without lz4 keeps its default method.
    found = (
        op.get_bind()
        .exec_driver_sql(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
            "AND 'lz4' = ANY(enumvals)"
        )
        .first()
    )
    return found is not None


def _alter_postgresql(kind: str, using: str) -> None:
    for column in _COLUMNS:
        op.execute(f"ALTER TABLE {_TABLE} ALTER COLUMN {column} TYPE {kind} USING {using % column}")
    # Changing a column's type resets its compression method: keep 0019's lz4.
    if _lz4_available():
        for column in _COLUMNS:
            op.execute(f"ALTER TABLE {_TABLE} ALTER COLUMN {column} SET COMPRESSION lz4")


def _alter_sqlite(kind: sa.types.TypeEngine[Any], convert: Callable[[Any], object]) -> None:
    """Recreate the table with the columns' new type, converting the rows staged now."""
    bind = op.get_bind()
    table = sa.table(
        _TABLE,
        sa.column("trace_id"),
        sa.column("batch_id"),
        *(sa.column(column) for column in _COLUMNS),
    )
    rows = bind.execute(sa.select(table)).all()
    with op.batch_alter_table(_TABLE, recreate="always") as batch:
        for column in _COLUMNS:
            batch.alter_column(column, type_=kind, existing_nullable=False)
    update = (
        table.update()
        .where(table.c.trace_id == sa.bindparam("t"), table.c.batch_id == sa.bindparam("b"))
        .values({column: sa.bindparam(f"v_{column}") for column in _COLUMNS})
    )
    values = [
        {"t": row.trace_id, "b": row.batch_id}
        | {f"v_{column}": convert(getattr(row, column)) for column in _COLUMNS}
        for row in rows
    ]
    if values:
        bind.execute(update, values)


def upgrade() -> None:
    # Base64 cost a third more bytes to store and compress, and decoding it cost assembly
    # more CPU than parsing the protobuf it holds.
    if op.get_bind().dialect.name == "postgresql":
        _alter_postgresql("bytea", "decode(%s, 'base64')")
    else:
        _alter_sqlite(sa.LargeBinary(), base64.b64decode)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # encode() breaks base64 into lines of 76 characters; the old code wrote one line.
        _alter_postgresql("text", "translate(encode(%s, 'base64'), E'\\n', '')")
    else:
        _alter_sqlite(sa.Text(), lambda data: base64.b64encode(data).decode())
