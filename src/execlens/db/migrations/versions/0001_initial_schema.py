"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 18:46:46.300600
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "scope",
            sa.Enum(
                "ingest",
                "admin",
                name="api_key_scope",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "executions",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("graph_id", sa.String(length=200), nullable=False),
        sa.Column("graph_version", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "INCOMPLETE",
                "QUEUED",
                "RUNNING",
                "COMPLETED",
                "TERMINATED",
                "FAILED",
                "REVIEW",
                name="execution_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cost_cents", sa.Integer(), nullable=True),
        sa.Column("walltime", sa.Float(), nullable=True),
        sa.Column("cputime", sa.Float(), nullable=True),
        sa.Column("node_count", sa.Integer(), nullable=True),
        sa.Column("node_error_count", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("activity_status", sa.Text(), nullable=True),
        sa.Column("correctness_score", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_executions")),
    )
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.create_index("ix_executions_created", ["created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_executions_graph_created", ["graph_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_executions_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "graphs",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("nodes", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("links", sa.JSON(none_as_null=True), nullable=False),
        sa.PrimaryKeyConstraint("id", "version", name=op.f("pk_graphs")),
    )
    op.create_table(
        "node_executions",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("execution_id", sa.String(length=200), nullable=False),
        sa.Column("node_id", sa.String(length=200), nullable=False),
        sa.Column("block_name", sa.String(length=500), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "INCOMPLETE",
                "QUEUED",
                "RUNNING",
                "COMPLETED",
                "TERMINATED",
                "FAILED",
                "REVIEW",
                name="execution_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("input_data", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("output_data", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_node_executions_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_node_executions")),
    )
    with op.batch_alter_table("node_executions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_node_executions_execution", ["execution_id", "queued_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("node_executions", schema=None) as batch_op:
        batch_op.drop_index("ix_node_executions_execution")

    op.drop_table("node_executions")
    op.drop_table("graphs")
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index("ix_executions_user_created")
        batch_op.drop_index("ix_executions_graph_created")
        batch_op.drop_index("ix_executions_created")

    op.drop_table("executions")
    op.drop_table("api_keys")
