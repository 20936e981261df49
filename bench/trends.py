"""Measure the accuracy trends query against an upstream-style query, on SQLite and PostgreSQL.

Usage: .venv/bin/python bench/trends.py [--dialects sqlite postgresql] [--executions 1000000]

Loads 1,000,000 finished-or-not executions over 365 days (100,000 of them for one agent,
the rest spread over 99 others) into `executions` through the bulk ingest path, and the
same rows into `upstream_executions`, shaped like upstream's table: the score inside a
JSON `stats` column and no index but the primary key. Then times, for that agent over 30
and 90 days, execlens's trends call (one query: on PostgreSQL over the covering day index,
on SQLite over the per-day totals its triggers keep; the response built in Python) and
upstream's query (AVG over the JSON field, ROWS frames). Goal: p50 ≤ 20 ms and at least
20x faster than the upstream-style query. The load goes through the same bulk ingest path
as `execlens import`, so the index and the totals are maintained as in production.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.executions import repository
from execlens.trends.service import trend_query, trend_service

POSTGRES_URL = os.environ.get(
    "EXECLENS_BENCH_POSTGRES_URL",
    "postgresql+asyncpg://execlens:execlens@127.0.0.1:5432/execlens_bench",
)
AGENT = "agent-under-test"
GOAL_P50_MS = 20.0
GOAL_SPEEDUP = 20.0
CHUNK = 50_000
NOW = datetime.now(UTC)
STATUSES = ["COMPLETED"] * 90 + ["FAILED"] * 5 + ["TERMINATED"] * 3 + ["RUNNING"] * 2

UPSTREAM_TABLE = {
    "sqlite": """CREATE TABLE upstream_executions (
        id TEXT PRIMARY KEY, graph_id TEXT NOT NULL, user_id TEXT NOT NULL,
        status TEXT NOT NULL, created_at TEXT NOT NULL, is_deleted BOOLEAN NOT NULL,
        stats TEXT)""",
    "postgresql": """CREATE TABLE upstream_executions (
        id TEXT PRIMARY KEY, graph_id TEXT NOT NULL, user_id TEXT NOT NULL,
        status TEXT NOT NULL, created_at TIMESTAMP NOT NULL, is_deleted BOOLEAN NOT NULL,
        stats JSONB)""",
}
# Upstream's query (get_accuracy_trends_and_alerts, with its history), on this table.
UPSTREAM_SCORE = {
    "sqlite": "json_extract(e.stats, '$.correctness_score')",
    "postgresql": "(e.stats::json->>'correctness_score')",
}
UPSTREAM_QUERY = """
WITH daily_scores AS (
    SELECT DATE(e.created_at) AS execution_date,
        AVG(CASE WHEN e.stats IS NOT NULL AND {score} IS NOT NULL AND {score} != 'null'
            THEN CAST({score} AS FLOAT) * 100 ELSE NULL END) AS daily_score
    FROM upstream_executions e
    WHERE e.graph_id = :graph_id AND e.is_deleted = false AND e.created_at >= :since
        AND e.status IN ('COMPLETED', 'FAILED', 'TERMINATED')
    GROUP BY DATE(e.created_at)
    HAVING COUNT(*) >= 1
),
trends AS (
    SELECT execution_date, daily_score,
        AVG(daily_score) OVER (ORDER BY execution_date ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
            AS three_day_avg,
        AVG(daily_score) OVER (ORDER BY execution_date ROWS BETWEEN 6 PRECEDING AND CURRENT ROW)
            AS seven_day_avg,
        AVG(daily_score) OVER (ORDER BY execution_date ROWS BETWEEN 13 PRECEDING AND CURRENT ROW)
            AS fourteen_day_avg
    FROM daily_scores
)
SELECT *, CASE WHEN three_day_avg IS NOT NULL AND seven_day_avg IS NOT NULL
        AND seven_day_avg > 0 THEN ((seven_day_avg - three_day_avg) / seven_day_avg * 100)
        ELSE NULL END AS drop_percent
FROM trends ORDER BY execution_date DESC
"""


SUMMARIES = [
    "The agent read the 14 new emails in your inbox, sorted them into urgent, follow-up and "
    "newsletters, and drafted replies to the two urgent ones for you to review.",
    "The agent wrote a 900-word blog post on the topic you gave, with a title, three "
    "sections and a short conclusion, and saved it as a draft.",
    "The agent tried to build the sales report but the spreadsheet you linked could not be "
    "opened, so no report was produced.",
]


def generate(total: int, agent_share: int) -> Iterator[list[tuple]]:
    """Yield chunks of execution rows (EXECUTION_COLUMNS order), oldest first."""
    rng = random.Random(7)
    start = NOW - timedelta(days=365)
    step = timedelta(days=365) / total
    chunk: list[tuple] = []
    for e in range(total):
        graph_id = AGENT if e % (total // agent_share) == 0 else f"graph-{e % 99:02d}"
        created = start + step * e
        status = rng.choice(STATUSES)
        score = None if rng.random() < 0.15 else round(rng.random(), 3)
        user_id = f"user-{rng.randrange(500)}"
        identity = (f"exec-{e:08d}", graph_id, 1, user_id, status)
        # A scored run also has its summary, as the judge writes both.
        summary = None if score is None else SUMMARIES[e % len(SUMMARIES)]
        timing = (created, created, created, 3, 2.5, 0.2, 5, 0, None)
        chunk.append((*identity, *timing, summary, score, None))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def upstream_row(dialect: str, row: tuple) -> tuple:
    """Return an execution row as upstream stores it: the score inside JSON stats."""
    stats = {"cost": row[8], "walltime": row[9], "cputime": row[10], "node_count": row[11]}
    stats |= {"node_error_count": row[12], "error": row[13]}
    stats |= {"activity_status": row[14], "correctness_score": row[15]}
    created = _upstream_time(dialect, row[5])
    return (row[0], row[1], row[3], row[4], created, False, json.dumps(stats))


def _upstream_time(dialect: str, value: datetime) -> str | datetime:
    # Upstream's createdAt is a timestamp without time zone, in UTC.
    naive = value.astimezone(UTC).replace(tzinfo=None)
    return naive.isoformat(" ", "microseconds") if dialect == "sqlite" else naive


async def load(database: Database, total: int, agent_share: int) -> float:
    """Load both tables; return the seconds it took."""
    started = time.perf_counter()
    dialect = database.dialect
    async with database.write() as session:
        await session.execute(text(UPSTREAM_TABLE[dialect]))
    for chunk in generate(total, agent_share):
        async with database.write() as session:
            encoded = repository.encode_executions(dialect, chunk)
            await repository.upsert_executions(session, dialect, encoded)
            connection = await session.connection()
            driver = (await connection.get_raw_connection()).driver_connection
            rows = [upstream_row(dialect, r) for r in chunk]
            if dialect == "sqlite":
                sql = "INSERT INTO upstream_executions VALUES (?, ?, ?, ?, ?, ?, ?)"
                await driver.executemany(sql, rows)
            else:
                await driver.copy_records_to_table("upstream_executions", records=rows)
    if dialect == "postgresql":
        # VACUUM sets the visibility map, which index-only scans need (autovacuum would).
        async with database.reader.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE executions"))
            await connection.execute(text("VACUUM ANALYZE upstream_executions"))
    else:
        async with database.write() as session:
            await session.execute(text("ANALYZE"))
    return time.perf_counter() - started


async def _time(call, repeat: int) -> tuple[float, float]:
    for _ in range(2):  # warm caches and statement caches
        await call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95


async def measure(database: Database, window: str, days: int, repeat: int) -> dict:
    query = trend_query(graph_id=AGENT, days_back=days, window=window, include_historical=True)
    upstream_sql = text(UPSTREAM_QUERY.format(score=UPSTREAM_SCORE[database.dialect]))
    since = _upstream_time(database.dialect, NOW - timedelta(days=days))
    params = {"graph_id": AGENT, "since": since}

    async def ours() -> None:
        async with database.read() as session:
            trend = await trend_service.trends(session, database.dialect, query, now=NOW)
        assert trend.historical_data

    async def upstream() -> None:
        async with database.read() as session:
            rows = (await session.execute(upstream_sql, params)).all()
        assert rows

    ours_p50, ours_p95 = await _time(ours, repeat)
    up_p50, up_p95 = await _time(upstream, max(5, repeat // 3))
    return {"ours": (ours_p50, ours_p95), "upstream": (up_p50, up_p95)}


async def run(dialect: str, url: str, args: argparse.Namespace) -> tuple[float, dict[tuple, dict]]:
    database = Database(url)
    if dialect == "postgresql":
        async with database.writer.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await upgrade(database)
    seconds = await load(database, args.executions, args.agent_executions)
    results = {
        (window, days): await measure(database, window, days, args.repeat)
        for window in ("calendar", "rows")
        for days in (30, 90)
    }
    await database.dispose()
    return seconds, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialects", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--agent-executions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30, help="timed trends calls per case")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args()

    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for dialect in args.dialects:
            url = (
                f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
                if dialect == "sqlite"
                else args.postgres_url
            )
            seconds, results = asyncio.run(run(dialect, url, args))
            print(f"{dialect}: loaded {args.executions:,} executions twice in {seconds:.0f} s")
            for (window, days), result in results.items():
                lines.append((dialect, window, days, result))

    print(
        f"\ntrends of one agent ({args.agent_executions:,} of {args.executions:,} executions "
        f"over 365 days); goal p50 ≤ {GOAL_P50_MS:g} ms and ≥ {GOAL_SPEEDUP:g}x faster"
    )
    header = f"{'database':<11}{'window':<9}{'days':>5}{'execlens p50':>14}{'p95':>9}"
    header += f"{'upstream p50':>14}{'p95':>10}{'speed-up':>10}  goal"
    print(header)
    for dialect, window, days, result in lines:
        (p50, p95), (up50, up95) = result["ours"], result["upstream"]
        speedup = up50 / p50
        met = "met" if p50 <= GOAL_P50_MS and speedup >= GOAL_SPEEDUP else "MISSED"
        print(
            f"{dialect:<11}{window:<9}{days:>5}{p50:>11.1f} ms{p95:>6.1f} ms{up50:>11.1f} ms"
            f"{up95:>7.1f} ms{speedup:>9.0f}x  {met}"
        )
    print("execlens: the whole trends call (one SQL query + response); times in milliseconds")
    print("window: execlens's calendar days (the default) or upstream's rows; upstream: rows")


if __name__ == "__main__":
    main()
