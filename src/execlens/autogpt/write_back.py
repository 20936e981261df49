"""Write execlens's verdicts into AutoGPT's runs: two `stats` keys merged, nothing else."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from execlens.autogpt import repository
from execlens.autogpt.repository import HandledWriteBack
from execlens.autogpt.source import SourceDatabase, SourceError, source_connection, source_engine
from execlens.db.engine import Database

DEFAULT_BATCH = 200
TABLE = "AgentGraphExecution"

_CAN_UPDATE = text("SELECT has_table_privilege(CAST(:table AS text), 'UPDATE')")
# The row lock makes the read and the write one step: an executor that replaces the
# whole `stats` object meanwhile waits, and its own values are never overwritten unseen.
_CURRENT = text(
    "SELECT id, stats->'activity_status' AS summary, stats->'correctness_score' AS score "
    'FROM "AgentGraphExecution" WHERE id = ANY(CAST(:ids AS text[])) FOR UPDATE'
)
# A merge of the two keys: every other key stays as the executor wrote it (upstream's own
# writer replaces the whole object). `updatedAt` is left alone, so the next sync pass does
# not read the run again for a change execlens made.
_MERGE = text(
    'UPDATE "AgentGraphExecution" AS r SET stats = '
    "(CASE WHEN jsonb_typeof(r.stats) = 'object' THEN r.stats ELSE '{}'::jsonb END) "
    "|| jsonb_build_object('activity_status', v.summary, 'correctness_score', v.score) "
    "FROM unnest(CAST(:ids AS text[]), CAST(:summaries AS text[]), CAST(:scores AS float8[])) "
    "AS v(id, summary, score) WHERE r.id = v.id"
)


@dataclass
class WriteBackReport:
    """What one write-back pass did."""

    written: int = 0
    # AutoGPT already held exactly this summary and score.
    in_place: int = 0
    # AutoGPT had a summary or score of its own, kept without --overwrite.
    kept_theirs: int = 0
    # Runs no longer in AutoGPT's table.
    missing: int = 0


@dataclass(frozen=True)
class _Decision:
    writes: list[HandledWriteBack]
    handled: list[HandledWriteBack]


def update_grant_hint(source: SourceDatabase) -> str:
    """Return the GRANT statement write-back needs, for messages."""
    user = source.url.username or "<user>"
    return f'GRANT UPDATE ON "{source.schema}"."{TABLE}" TO {user}'


class AutoGPTWriteBack:
    """Verdicts of synced runs written into AutoGPT's ``stats``, batched and guarded."""

    def __init__(
        self,
        source: SourceDatabase,
        database: Database,
        *,
        overwrite: bool = False,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        self.source = source
        self.database = database
        self.overwrite = overwrite
        self.batch_size = batch_size
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        """Return a writable engine on AutoGPT's database, created on first use."""
        if self._engine is None:
            self._engine = source_engine(self.source, read_only=False)
        return self._engine

    async def check(self) -> None:
        """Raise SourceError unless execlens may UPDATE AutoGPT's runs table."""
        async with source_connection(self.engine, self.source) as connection:
            table = f'"{self.source.schema}"."{TABLE}"'
            if not await connection.scalar(_CAN_UPDATE, {"table": table}):
                raise SourceError(
                    f"write-back needs UPDATE on {table} in AutoGPT's database at "
                    f"{self.source.label}; run {update_grant_hint(self.source)}"
                )

    async def close(self) -> None:
        """Close the connections to AutoGPT's database."""
        if self._engine is not None:
            await self._engine.dispose()

    async def write_once(self) -> WriteBackReport:
        """Write every due verdict into AutoGPT, one batch per transaction on each side."""
        report = WriteBackReport()
        after = ""
        while True:
            async with self.database.read() as session:
                due = await repository.due_write_backs(
                    session, after=after, limit=self.batch_size, overwrite=self.overwrite
                )
            if not due:
                return report
            after = due[-1].execution_id
            # AutoGPT's side commits first. Should execlens's record of it be lost (a
            # crash between the two), the next pass finds the values in place and
            # writes nothing: no run is written twice.
            async with source_connection(self.engine, self.source) as connection:
                handled = await self._write_batch(connection, due, report)
                await connection.commit()
            async with self.database.write() as session:
                await repository.save_write_backs(session, handled)

    async def _write_batch(
        self, connection: AsyncConnection, due: Sequence[Row], report: WriteBackReport
    ) -> list[HandledWriteBack]:
        ids = [row.execution_id for row in due]
        current = {row.id: row for row in await connection.execute(_CURRENT, {"ids": ids})}
        decision = self._decide(due, current, report)
        if decision.writes:
            await connection.execute(
                _MERGE,
                {
                    "ids": [w.execution_id for w in decision.writes],
                    "summaries": [w.summary for w in decision.writes],
                    "scores": [w.score for w in decision.writes],
                },
            )
        return decision.handled

    def _decide(
        self, due: Sequence[Row], current: dict[str, Row], report: WriteBackReport
    ) -> _Decision:
        writes: list[HandledWriteBack] = []
        handled: list[HandledWriteBack] = []
        for row in due:
            verdict = HandledWriteBack(row.execution_id, row.summary, row.score, False)
            there = current.get(row.execution_id)
            if there is None:
                report.missing += 1
                handled.append(verdict)
            elif _same(there.summary, row.summary) and _same(there.score, row.score):
                report.in_place += 1
                handled.append(verdict)
            elif _theirs(there, row) and not self.overwrite:
                report.kept_theirs += 1
                handled.append(HandledWriteBack(row.execution_id, row.summary, row.score, True))
            else:
                report.written += 1
                writes.append(verdict)
                handled.append(verdict)
        return _Decision(writes, handled)


def _same(stored: Any, value: Any) -> bool:
    if isinstance(value, float) and isinstance(stored, int | float):
        return float(stored) == value
    return bool(stored == value)


def _theirs(there: Row, row: Row) -> bool:
    """Tell whether AutoGPT holds a summary or score that execlens did not write."""
    # What execlens wrote last; after keeping AutoGPT's values it wrote nothing.
    ours_summary = None if row.kept_theirs else row.written_summary
    ours_score = None if row.kept_theirs else row.written_score
    return (there.summary is not None and not _same(there.summary, ours_summary)) or (
        there.score is not None and not _same(there.score, ours_score)
    )
