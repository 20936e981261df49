"""Writes and reads of labels, and the verdicts of labelled runs."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.db.dialect import insert_on_conflict
from execlens.db.engine import Dialect
from execlens.executions.models import Execution
from execlens.judge.models import VerdictRecord
from execlens.labels.models import Label


async def upsert_labels(
    session: AsyncSession, dialect: Dialect, rows: Sequence[dict[str, Any]]
) -> None:
    """Store labels; a person's new label of a run replaces their old one."""
    if not rows:
        return
    stmt = insert_on_conflict(dialect, Label.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["execution_id", "labeler"],
        set_={
            "score": stmt.excluded.score,
            "note": stmt.excluded.note,
            "created_at": stmt.excluded.created_at,
        },
    )
    await session.execute(stmt, list(rows))


def _storable(execution_id: str) -> bool:
    # PostgreSQL refuses NUL in any text, even in a lookup: such an id names nothing stored.
    return "\x00" not in execution_id


async def delete_label(session: AsyncSession, execution_id: str, labeler: str) -> bool:
    """Delete one person's label of a run; tell whether there was one."""
    if not _storable(execution_id):
        return False
    stmt = delete(Label).where(Label.execution_id == execution_id, Label.labeler == labeler)
    result = cast(CursorResult[Any], await session.execute(stmt))
    return bool(result.rowcount)


async def list_labels(session: AsyncSession, execution_id: str) -> Sequence[Label]:
    """Return a run's labels, newest first."""
    if not _storable(execution_id):
        return []
    stmt = (
        select(Label)
        .where(Label.execution_id == execution_id)
        .order_by(Label.created_at.desc(), Label.labeler)
    )
    return (await session.scalars(stmt)).all()


async def missing_executions(session: AsyncSession, ids: Sequence[str]) -> set[str]:
    """Return the ids that name no stored execution."""
    wanted = set(ids)
    found: set[str] = set()
    chunk = sorted(filter(_storable, wanted))
    for start in range(0, len(chunk), 500):
        stmt = select(Execution.id).where(Execution.id.in_(chunk[start : start + 500]))
        found.update((await session.scalars(stmt)).all())
    return wanted - found


async def mean_labels(session: AsyncSession) -> dict[str, float]:
    """Return each labelled run's label: the mean of every person's label."""
    stmt = select(Label.execution_id, func.avg(Label.score)).group_by(Label.execution_id)
    return {execution_id: float(score) for execution_id, score in await session.execute(stmt)}


async def verdicts_of_labelled_runs(session: AsyncSession) -> Sequence[VerdictRecord]:
    """Return every verdict of a labelled run, oldest first."""
    labelled = select(Label.execution_id).distinct()
    stmt = (
        select(VerdictRecord)
        .where(VerdictRecord.execution_id.in_(labelled))
        .order_by(VerdictRecord.created_at, VerdictRecord.id)
    )
    return (await session.scalars(stmt)).all()


def label_row(
    execution_id: str, labeler: str, score: float, note: str | None, at: datetime, id_: str
) -> dict[str, Any]:
    """Return the row of one label."""
    return {
        "id": id_,
        "execution_id": execution_id,
        "labeler": labeler,
        "score": score,
        "note": note,
        "created_at": at,
    }


def labelled(is_labelled: bool) -> ColumnElement[bool]:
    """Return a condition on executions: labelled by someone, or by nobody."""
    condition = exists().where(Label.execution_id == Execution.id)
    return condition if is_labelled else ~condition


async def scored_labels_since(session: AsyncSession, since: datetime) -> list[tuple[float, float]]:
    """Return (current score, mean label) of scored runs labelled at or after ``since``."""
    stmt = (
        select(Execution.correctness_score, func.avg(Label.score))
        .join(Label, Label.execution_id == Execution.id)
        .where(Label.created_at >= since, Execution.correctness_score.is_not(None))
        .group_by(Execution.id, Execution.correctness_score)
    )
    return [(float(score), float(label)) for score, label in await session.execute(stmt)]
