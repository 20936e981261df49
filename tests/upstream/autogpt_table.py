"""An AutoGPT-shaped executions table on PostgreSQL, and upstream's trends query over it.

The table has upstream's quoted names and types (timestamp(3) without zone, the status
enum, jsonb stats). The query is written here from AutoGPT's published description: days
by DATE("createdAt"), every day with a finished run, averages over the last 3, 7 and 14
such days (ROWS frames), a cut-off exactly days_back days before now.
"""

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tests.trends.conftest import Run

SCHEMA = "autogpt_platform_test"
_CREATE = [
    f'CREATE SCHEMA "{SCHEMA}"',
    f"""CREATE TYPE "{SCHEMA}"."AgentExecutionStatus" AS ENUM
        ('INCOMPLETE', 'QUEUED', 'RUNNING', 'COMPLETED', 'TERMINATED', 'FAILED', 'REVIEW')""",
    f"""CREATE TABLE "{SCHEMA}"."AgentGraphExecution" (
        id text PRIMARY KEY,
        "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "agentGraphId" text NOT NULL,
        "agentGraphVersion" integer NOT NULL DEFAULT 1,
        "executionStatus" "{SCHEMA}"."AgentExecutionStatus" NOT NULL DEFAULT 'COMPLETED',
        "userId" text NOT NULL,
        "isDeleted" boolean NOT NULL DEFAULT false,
        stats jsonb)""",
]
_TRENDS = """
WITH days AS (
    SELECT DATE(e."createdAt") AS day,
        AVG((e.stats->>'correctness_score')::float * 100) AS daily_score
    FROM "{schema}"."AgentGraphExecution" e
    WHERE e."agentGraphId" = :graph_id AND NOT e."isDeleted" AND e."createdAt" >= :since
        AND e."executionStatus" IN ('COMPLETED', 'FAILED', 'TERMINATED')
        AND (CAST(:user_id AS text) IS NULL OR e."userId" = :user_id)
    GROUP BY DATE(e."createdAt")
    HAVING COUNT(*) >= 1
)
SELECT day, daily_score,
    AVG(daily_score) OVER (ORDER BY day ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS three,
    AVG(daily_score) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS seven,
    AVG(daily_score) OVER (ORDER BY day ROWS BETWEEN 13 PRECEDING AND CURRENT ROW) AS fourteen
FROM days ORDER BY day DESC
"""


@asynccontextmanager
async def autogpt_table(url: str) -> AsyncIterator[AsyncConnection]:
    """Yield a connection to a fresh AutoGPT-shaped table; drop it afterwards."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
            for statement in _CREATE:
                await conn.execute(text(statement))
            await conn.commit()
            try:
                yield conn
            finally:
                await conn.rollback()
                await conn.execute(text(f'DROP SCHEMA "{SCHEMA}" CASCADE'))
                await conn.commit()
    finally:
        await engine.dispose()


async def insert_runs(conn: AsyncConnection, runs: Iterable[Run]) -> None:
    """Insert runs as AutoGPT stores them: naive UTC times, the score inside stats."""
    rows = [
        {
            "id": f"up-{n}",
            "created": datetime.combine(run.day, time(run.hour)),
            "graph_id": run.graph_id,
            "status": run.status,
            "user_id": run.user_id,
            "stats": "{}" if run.score is None else f'{{"correctness_score": {run.score}}}',
        }
        for n, run in enumerate(runs)
    ]
    await conn.execute(
        text(
            f'INSERT INTO "{SCHEMA}"."AgentGraphExecution" '
            '(id, "createdAt", "agentGraphId", "executionStatus", "userId", stats) '
            'VALUES (:id, :created, :graph_id, CAST(:status AS "'
            + SCHEMA
            + '"."AgentExecutionStatus"), :user_id, CAST(:stats AS jsonb))'
        ),
        rows,
    )
    await conn.commit()


async def upstream_trends(
    conn: AsyncConnection,
    graph_id: str,
    *,
    days_back: int,
    user_id: str | None = None,
    schema: str = SCHEMA,
) -> list[dict]:
    """Return upstream's rows, newest day first, as the route's historical_data values."""
    since = (datetime.now(UTC) - timedelta(days=days_back)).replace(tzinfo=None)
    params = {"graph_id": graph_id, "since": since, "user_id": user_id}
    rows = (await conn.execute(text(_TRENDS.format(schema=schema)), params)).all()
    return [
        {
            "date": datetime.combine(row.day, time()).isoformat(),
            "daily_score": row.daily_score,
            "three_day_avg": row.three,
            "seven_day_avg": row.seven,
            "fourteen_day_avg": row.fourteen,
        }
        for row in rows
    ]
