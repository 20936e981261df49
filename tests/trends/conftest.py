"""Helpers for trend tests: store scored runs on given UTC days, quickly."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import count

from execlens.db.engine import Database
from execlens.executions import repository
from execlens.executions.schemas import GraphIn
from execlens.executions.service import execution_service
from tests.factories import make_graph
from tests.jobs.conftest import (  # noqa: F401  (fixtures of judging runs)
    api,
    fake_llm,
    jobs_settings,
    judge,
    judge_settings,
    worker,
)

# "Now" in every crafted test: noon UTC, so the last day in a series is "today".
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
_ids = count()


@dataclass(frozen=True)
class Run:
    """One execution as a trend sees it."""

    day: date
    score: float | None
    status: str = "COMPLETED"
    graph_id: str = "g-blog"
    user_id: str = "u-1"
    hour: int = 10


def day(offset: int) -> date:
    """Return the day ``offset`` days before TODAY (0 is today)."""
    return TODAY - timedelta(days=offset)


def runs_for(days: dict[int, list[float | None]], **fields) -> list[Run]:
    """Return runs with the given scores on days TODAY-offset."""
    return [Run(day(o), score, **fields) for o, scores in days.items() for score in scores]


def drop(start: int = 0) -> dict[int, list[float]]:
    """Seven days at 0.9, then three at 0.45 ending ``start`` days before NOW's day."""
    return {o + start: [0.9] * 3 for o in range(3, 10)} | {o + start: [0.45] * 3 for o in range(3)}


def execution_row(run_id: str, run: Run) -> tuple:
    """Return a run as an execution row for ``repository.encode_executions``."""
    created = datetime.combine(run.day, time(run.hour), tzinfo=UTC)
    identity = (run_id, run.graph_id, 1, run.user_id, run.status)
    return (*identity, created, created, created, *[None] * 7, run.score, None)


async def store_runs(database: Database, runs: Iterable[Run], *, name: str = "Blog writer") -> None:
    """Store runs (and a graph per graph id) through the bulk ingest path."""
    runs = list(runs)
    rows = [execution_row(f"run-{next(_ids)}", run) for run in runs]
    graphs = {run.graph_id for run in runs}
    async with database.write() as session:
        for graph_id in graphs:
            graph = GraphIn.model_validate(make_graph(graph_id, name=name))
            await execution_service.upsert_graph(session, database.dialect, graph)
        encoded = repository.encode_executions(database.dialect, rows)
        await repository.upsert_executions(session, database.dialect, encoded)
