"""OTLP spans written once, at ingest: node executions of a running execution per trace

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 04:30:00

A span now becomes its node execution row when it arrives, under an execution that
stays RUNNING until its trace finishes. The trace row keeps what finishing needs from
spans it does not store whole (the agent, the service, the user, values cut). Node
executions name the node execution that called them (the parent span).

Spans staged by an earlier version stay in ``otlp_staged_spans``: the next assembly pass
writes them the new way. Their traces' pending rows are dropped here, because that pass
makes them again from the staged spans, with the placeholder execution they now need.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRACE_COLUMNS = ("agent_name", "service_name", "user_id")
_COUNT_COLUMNS = ("trimmed_values", "dropped_spans")


def upgrade() -> None:
    with op.batch_alter_table("otlp_traces") as batch:
        for name in _TRACE_COLUMNS:
            batch.add_column(sa.Column(name, sa.String(200), nullable=True))
        for name in _COUNT_COLUMNS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("node_executions") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(200), nullable=True))
    op.execute("DELETE FROM otlp_traces WHERE state = 'pending'")


def downgrade() -> None:
    bind = op.get_bind()
    running = bind.exec_driver_sql(
        "SELECT count(*) FROM otlp_traces WHERE state = 'pending'"
    ).scalar_one()
    if running:
        # Their spans are node executions now: an earlier version could not finish them.
        raise RuntimeError(
            f"{running} OTLP traces are still arriving; stop the exporters and let them "
            "finish (EXECLENS_OTLP_GRACE_SECONDS after their root span) before downgrading"
        )
    with op.batch_alter_table("node_executions") as batch:
        batch.drop_column("parent_id")
    with op.batch_alter_table("otlp_traces") as batch:
        for name in reversed(_COUNT_COLUMNS):
            batch.drop_column(name)
        for name in reversed(_TRACE_COLUMNS):
            batch.drop_column(name)
