"""trends read the UTC day from their index; SQLite keeps per-day totals

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = "('COMPLETED', 'FAILED', 'TERMINATED')"
_FINISHED = f"status IN {_STATUSES}"
# The UTC day number (days since 1970-01-01) of created_at, written exactly as
# execlens.db.dialect.utc_day_number renders it, so that the planner matches the two.
_DAY = {
    "sqlite": "CAST(julianday(substr({row}created_at, 1, 10)) - 2440587.5 AS INTEGER)",
    "postgresql": "(CAST(timezone('UTC', {row}created_at) AS DATE) - DATE '1970-01-01')",
}

# SQLite reads ~150 ns per index entry, so a 90-day trend of a busy agent (25,000 runs)
# costs milliseconds; its triggers keep each graph's per-day totals of finished runs
# instead, one row per day. SQLite has one writer at a time, so the totals' rows are never
# contended. (PostgreSQL reads the index fast enough, and row-lock order between workers
# updating the same days could deadlock, so it has no such table.) A batch migration that
# recreates `executions` drops these triggers: recreate them after it.
_SQLITE_DAY_TOTALS = """
CREATE TABLE execution_days (
    graph_id VARCHAR(200) NOT NULL,
    day INTEGER NOT NULL,
    executions INTEGER NOT NULL,
    scored INTEGER NOT NULL,
    score_sum FLOAT NOT NULL,
    CONSTRAINT pk_execution_days PRIMARY KEY (graph_id, day)
) WITHOUT ROWID
"""
_SQLITE_ADD = """
    INSERT INTO execution_days (graph_id, day, executions, scored, score_sum)
    SELECT new.graph_id, {new_day}, 1, new.correctness_score IS NOT NULL,
        coalesce(new.correctness_score, 0.0)
    WHERE new.status IN {statuses}
    ON CONFLICT (graph_id, day) DO UPDATE SET
        executions = executions + 1,
        scored = scored + excluded.scored,
        score_sum = score_sum + excluded.score_sum;
"""
_SQLITE_REMOVE = """
    UPDATE execution_days SET
        executions = executions - 1,
        scored = scored - (old.correctness_score IS NOT NULL),
        score_sum = score_sum - coalesce(old.correctness_score, 0.0)
    WHERE old.status IN {statuses} AND graph_id = old.graph_id AND day = {old_day};
"""
_SQLITE_TRIGGERS = {
    "execution_days_insert": f"AFTER INSERT ON executions BEGIN {_SQLITE_ADD} END",
    "execution_days_delete": f"AFTER DELETE ON executions BEGIN {_SQLITE_REMOVE} END",
    # An upsert's DO UPDATE fires this too; rows whose counted values did not change
    # (a re-import, a verdict on a run in progress) skip it.
    "execution_days_update": (
        "AFTER UPDATE OF graph_id, status, created_at, correctness_score ON executions "
        "WHEN NOT (old.graph_id IS new.graph_id AND old.status IS new.status "
        "AND old.created_at IS new.created_at "
        "AND old.correctness_score IS new.correctness_score) "
        f"BEGIN {_SQLITE_REMOVE} {_SQLITE_ADD} END"
    ),
}


def upgrade() -> None:
    # Replaces 0004's index on (graph_id, created_at, ...): with the day right after the
    # graph, a trend reads each day's runs in order and groups them without sorting or
    # recomputing the date per run. created_at stays for upstream's instant cut-off. It
    # repeats status, although its condition fixes it: without it SQLite (3.40 here) still
    # reads the table for the column that condition names.
    dialect = op.get_bind().dialect.name
    day = _DAY[dialect]
    op.execute(
        "CREATE INDEX ix_executions_graph_day_finished ON executions "
        f"(graph_id, {day.format(row='')}, created_at, correctness_score, user_id, status) "
        f"WHERE {_FINISHED}"
    )
    op.drop_index("ix_executions_graph_finished", table_name="executions")
    if dialect != "sqlite":
        return
    op.execute(_SQLITE_DAY_TOTALS)
    op.execute(
        "INSERT INTO execution_days (graph_id, day, executions, scored, score_sum) "
        f"SELECT graph_id, {day.format(row='')}, count(*), count(correctness_score), "
        f"total(correctness_score) FROM executions WHERE {_FINISHED} GROUP BY 1, 2"
    )
    old_day, new_day = day.format(row="old."), day.format(row="new.")
    for name, body in _SQLITE_TRIGGERS.items():
        body = body.format(old_day=old_day, new_day=new_day, statuses=_STATUSES)
        op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE execution_days")
    op.execute(
        "CREATE INDEX ix_executions_graph_finished ON executions "
        f"(graph_id, created_at, correctness_score, user_id, status) WHERE {_FINISHED}"
    )
    op.drop_index("ix_executions_graph_day_finished", table_name="executions")
