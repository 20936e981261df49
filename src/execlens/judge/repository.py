"""Writes and reads of verdicts."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.executions.models import Execution
from execlens.judge.models import VerdictRecord


async def add_verdicts(
    session: AsyncSession, rows: Sequence[dict[str, Any]], *, current: bool = True
) -> None:
    """Store verdict rows; with ``current``, each as its execution's summary and score."""
    if not rows:
        return
    # Plain rows in one statement: no ORM object per verdict on a backfill's hot path.
    await session.execute(insert(VerdictRecord.__table__), rows)
    if not current:
        return
    # Core's executemany: the ORM's bulk update by primary key walks each row in Python.
    table = Execution.__table__
    await session.execute(
        update(table).where(table.c.id == bindparam("execution_id")),
        [
            {
                "execution_id": r["execution_id"],
                "activity_status": r["activity_status"],
                "correctness_score": r["correctness_score"],
            }
            for r in rows
        ],
    )


async def list_verdicts(session: AsyncSession, execution_id: str) -> Sequence[VerdictRecord]:
    """Return an execution's verdicts, newest first."""
    stmt = (
        select(VerdictRecord)
        .where(VerdictRecord.execution_id == execution_id)
        .order_by(VerdictRecord.created_at.desc())
    )
    return (await session.scalars(stmt)).all()


def judged_by(judge: str) -> ColumnElement[bool]:
    """Return a condition on executions: judged by ``judge`` ("rules", "provider[/model]")."""
    if judge == "rules":
        match = VerdictRecord.judge == "rules"
    else:
        provider, _, model = judge.partition("/")
        match = VerdictRecord.provider == provider
        if model:
            match = and_(match, VerdictRecord.model == model)
    return exists().where(VerdictRecord.execution_id == Execution.id, match)
