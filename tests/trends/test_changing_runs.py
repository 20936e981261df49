"""Trends follow runs that change after they were stored: re-imports, verdicts, deletions.

On SQLite a calendar trend reads per-day totals that triggers keep; these tests change runs
through every write path and compare the trend with a reference computed from scratch.
"""

from dataclasses import replace
from itertools import count

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from execlens.db.dialect import bulk_upsert, encode_rows
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.executions import repository
from execlens.executions.models import Execution
from execlens.judge.schemas import Verdict
from execlens.judge.service import judge_service
from execlens.trends.service import trend_query, trend_service
from tests.trends.conftest import NOW, Run, day, execution_row
from tests.trends.reference import assert_matches, reference_trend

_examples = count()
GRAPHS = ("g-a", "g-b")

run_values = st.tuples(
    st.integers(0, 20),  # days before today
    st.integers(0, 23),
    st.sampled_from(["COMPLETED", "FAILED", "TERMINATED", "RUNNING", "QUEUED"]),
    st.one_of(st.none(), st.floats(0, 1)),
    st.sampled_from(GRAPHS),
)
change = st.one_of(
    st.tuples(st.just("reimport"), st.integers(0, 99), run_values),
    st.tuples(st.just("verdict"), st.integers(0, 99), st.floats(0, 1)),
    st.tuples(st.just("delete"), st.integers(0, 99), st.none()),
)


def _run(values: tuple, graph_prefix: str) -> Run:
    offset, hour, status, score, graph = values
    return Run(day(offset), score, status, f"{graph_prefix}{graph}", "u-1", hour)


async def _import(database: Database, runs: dict[str, Run]) -> None:
    rows = [execution_row(run_id, run) for run_id, run in runs.items()]
    async with database.write() as session:
        encoded = repository.encode_executions(database.dialect, rows)
        await repository.upsert_executions(session, database.dialect, encoded)


async def _import_before_arrivals(database: Database, runs: dict[str, Run]) -> None:
    """Import into a database older than migration 0010, which has no arrived_at column."""
    columns = repository.EXECUTION_COLUMNS[:-1]
    assert repository.EXECUTION_COLUMNS[-1] == "arrived_at"
    rows = [execution_row(run_id, run)[:-1] for run_id, run in runs.items()]
    table = Execution.__table__
    async with database.write() as session:
        encoded = encode_rows(database.dialect, table, columns, rows)
        await bulk_upsert(session, database.dialect, table, columns, encoded)


async def _judge(database: Database, run_id: str, score: float) -> None:
    verdict = Verdict(
        execution_id=run_id,
        activity_status="The agent did its job.",
        correctness_score=score,
        judge="llm",
        judge_version="test",
        provider="openai",
        model="gpt-test",
        prompt_hash="0" * 16,
        input_tokens=10,
        output_tokens=5,
        cost_usd=None,
        latency_ms=1,
        digest_tokens=10,
        digest_truncated=False,
        created_at=NOW,
    )
    async with database.write() as session:
        await judge_service.store(session, [verdict])


async def _assert_trends_match(database: Database, runs: list[Run], graph_ids) -> None:
    for graph_id in graph_ids:
        for window in ("calendar", "rows"):
            query = trend_query(
                graph_id=graph_id, days_back=25, window=window, include_historical=True
            )
            async with database.read() as session:
                trend = await trend_service.trends(session, database.dialect, query, now=NOW)
            expected = reference_trend(
                [r for r in runs if r.graph_id == graph_id], now=NOW, days_back=25, window=window
            )
            assert_matches(trend.historical_data, expected, window)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    initial=st.lists(run_values, min_size=1, max_size=25),
    changes=st.lists(change, max_size=12),
)
async def test_trends_follow_reimports_verdicts_and_deletions(database, initial, changes):
    # Each example has its own graphs, so examples share the database without clearing it.
    prefix = f"ex{next(_examples)}-"
    runs = {f"{prefix}run-{i}": _run(values, prefix) for i, values in enumerate(initial)}
    await _import(database, runs)
    for kind, index, payload in changes:
        run_id = list(runs)[index % len(runs)] if runs else None
        if run_id is None:
            break
        if kind == "reimport":
            new = _run(payload, prefix)
            # A re-import without a score keeps the stored one.
            runs[run_id] = new if new.score is not None else replace(new, score=runs[run_id].score)
            await _import(database, {run_id: new})
        elif kind == "verdict":
            runs[run_id] = replace(runs[run_id], score=payload)
            await _judge(database, run_id, payload)
        else:
            del runs[run_id]
            async with database.write() as session:
                await session.execute(delete(Execution).where(Execution.id == run_id))
    await _assert_trends_match(database, list(runs.values()), [prefix + g for g in GRAPHS])


async def test_upgrading_a_filled_database_counts_the_runs_it_holds(tmp_path):
    # Migration 0006 totals the runs already stored; triggers keep the totals from then on.
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await upgrade(database, "0005")
        runs = {f"run-{i}": Run(day(i % 9), (i % 5) / 4, "COMPLETED", "g-a") for i in range(40)}
        runs |= {"run-failed": Run(day(2), None, "FAILED", "g-a")}
        runs |= {"run-open": Run(day(1), 0.1, "RUNNING", "g-a")}
        await _import_before_arrivals(database, runs)
        await upgrade(database)
        await _assert_trends_match(database, list(runs.values()), ["g-a"])

        runs["run-open"] = replace(runs["run-open"], status="COMPLETED")
        await _import(database, {"run-open": runs["run-open"]})
        await _assert_trends_match(database, list(runs.values()), ["g-a"])
    finally:
        await database.dispose()
