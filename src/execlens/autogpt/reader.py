"""Queries on AutoGPT's tables: finished runs by change time, their nodes, graphs.

Names are AutoGPT's Prisma names, quoted; the engine's search_path points at its schema.
"""

from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from typing import Any, NamedTuple, TypeAlias

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from execlens.db.base import AnyRow

FINISHED = ("COMPLETED", "FAILED", "TERMINATED")
# Names longer than execlens stores are cut.
NAME_LIMIT = 500
# to_char's pattern for execlens's stored UTC text; AutoGPT's times are naive UTC.
_UTC_TEXT = "YYYY-MM-DD HH24:MI:SS.US"

# When a run last changed. Prisma sets updatedAt on every write of its own; a raw-SQL
# writer may not, so the end and creation times count too (GREATEST skips NULLs).
CHANGED_AT = 'GREATEST(r."createdAt", r."updatedAt", r."endedAt")'
_RUN_FILTER = f"""
WHERE r."executionStatus"::text IN ('COMPLETED', 'FAILED', 'TERMINATED')
  AND {CHANGED_AT} >= CAST(:since AS timestamp(3))
"""
# No index orders runs by their change time (AutoGPT's schema has none): the runs of a
# pass are read by one query, sorted once, through a server-side cursor. A query per batch
# would scan and sort every run again, and a pass would grow with the square of its runs.
# Their times come as timestamptz, which asyncpg reads as aware UTC datetimes: making each
# naive one aware in Python cost about 1 µs. The change time stays naive, as it is bound.
_RUNS = text(f"""
SELECT r.id, r."agentGraphId" AS graph_id, r."agentGraphVersion" AS graph_version,
       r."userId" AS user_id, r."executionStatus"::text AS status,
       r."createdAt" AT TIME ZONE 'UTC' AS created_at,
       r."startedAt" AT TIME ZONE 'UTC' AS started_at,
       r."endedAt" AT TIME ZONE 'UTC' AS ended_at,
       r."isDeleted" AS is_deleted, r.stats, {CHANGED_AT} AS changed_at
FROM "AgentGraphExecution" r
{_RUN_FILTER}
ORDER BY changed_at, r.id
""")
_COUNT = text(f'SELECT count(*) FROM "AgentGraphExecution" r {_RUN_FILTER}')
# Each node execution with its outputs grouped by pin and its input rows, both in time
# order, aggregated by PostgreSQL: one row per node execution reaches Python. A run over
# the limit keeps its first `head` and last `tail` node executions; the rest never leave
# the database.
# The first columns are execlens's node execution row (NODE_EXECUTION_COLUMNS), inputs
# and outputs as JSON text and times as UTC text ("YYYY-MM-DD HH:MM:SS.ffffff"), stored
# as they are: decoding them in Python only to encode them again was most of a sync's time.
# asyncpg's placeholders: $1 holds the run ids, $2 and $3 the head and tail kept.
# Values AutoGPT's moderation cleared replace the node's own, as AutoGPT reads them back;
# a JSON value Python holds false (null, {}, [], "", 0, false) counts as none.
_FALSY = "('null', '{}', '[]', '\"\"', '0', 'false')"
_NODE_EXECUTIONS = f"""
WITH k AS (
  SELECT * FROM (
    SELECT ne.id, ne."agentGraphExecutionId" AS run_id, ne."agentNodeId" AS node_id,
           ne."executionStatus"::text AS status, ne."executionData" AS execution_data,
           coalesce(ne."queuedTime", ne."addedTime") AS queued_at,
           ne."startedTime" AS started_at, ne."endedTime" AS ended_at, ne.stats,
           b.name AS block_name,
           row_number() OVER w AS position,
           count(*) OVER w AS total,
           lead(coalesce(ne."queuedTime", ne."addedTime")) OVER w AS next_queued_at
    FROM "AgentNodeExecution" ne
    LEFT JOIN "AgentNode" n ON n.id = ne."agentNodeId"
    LEFT JOIN "AgentBlock" b ON b.id = n."agentBlockId"
    WHERE ne."agentGraphExecutionId" = ANY(CAST($1 AS text[]))
    -- One frame for all three, so one sort and one pass compute them.
    WINDOW w AS (PARTITION BY ne."agentGraphExecutionId" ORDER BY ne."addedTime", ne.id
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
  ) k
  WHERE k.position <= CAST($2 AS integer) OR k.position > k.total - CAST($3 AS integer)
),
-- Outputs of the whole batch aggregated at once: one grouping, not one per node. As JSON
-- text (json_agg), not jsonb: building jsonb values cost about as much again.
outputs AS (
  SELECT o.node_execution_id, json_object_agg(o.name, o.vals) AS output
  FROM (
    SELECT io."referencedByOutputExecId" AS node_execution_id, io.name,
           json_agg(io.data ORDER BY io.time, io.id) AS vals
    FROM k JOIN "AgentNodeExecutionInputOutput" io ON io."referencedByOutputExecId" = k.id
    GROUP BY 1, 2
  ) o
  GROUP BY 1
)
SELECT k.id, k.run_id, k.node_id, nullif(left(k.block_name, {NAME_LIMIT}), '') AS block_name,
  k.status,
  coalesce(
    CASE WHEN k.stats -> 'cleared_inputs' NOT IN {_FALSY} THEN k.stats -> 'cleared_inputs' END,
    CASE WHEN k.execution_data IS NULL OR k.execution_data = CAST('{{}}' AS jsonb) THEN
      (SELECT jsonb_object_agg(io.name, io.data ORDER BY io.time, io.id)
       FROM "AgentNodeExecutionInputOutput" io
       WHERE io."referencedByInputExecId" = k.id)
    WHEN k.execution_data NOT IN {_FALSY} THEN k.execution_data END
  )::text AS input,
  coalesce(
    CASE WHEN k.stats -> 'cleared_outputs' NOT IN {_FALSY}
      THEN (k.stats -> 'cleared_outputs')::text END,
    outputs.output::text
  ) AS output,
  k.stats -> 'error' AS error,
  to_char(k.queued_at, '{_UTC_TEXT}') AS queued_at,
  to_char(k.started_at, '{_UTC_TEXT}') AS started_at,
  to_char(k.ended_at, '{_UTC_TEXT}') AS ended_at,
  k.total,
  CASE WHEN k.total - CAST($3 AS integer) > CAST($2 AS integer)
    THEN k.next_queued_at END AS next_queued_at
FROM k LEFT JOIN outputs ON outputs.node_execution_id = k.id
ORDER BY k.run_id, k.position
"""
_GRAPH_KEYS = "SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:versions AS integer[]))"
_GRAPHS = text(f"""
SELECT g.id, g.version, g.name, g.description FROM "AgentGraph" g
WHERE (g.id, g.version) IN ({_GRAPH_KEYS})
""")
_NODES = text(f"""
SELECT n."agentGraphId" AS graph_id, n."agentGraphVersion" AS graph_version, n.id,
       n."agentBlockId" AS block_id, b.name AS block_name, b.description
FROM "AgentNode" n LEFT JOIN "AgentBlock" b ON b.id = n."agentBlockId"
WHERE (n."agentGraphId", n."agentGraphVersion") IN ({_GRAPH_KEYS})
ORDER BY n."agentGraphId", n."agentGraphVersion", n.id
""")
_LINKS = text(f"""
SELECT n."agentGraphId" AS graph_id, n."agentGraphVersion" AS graph_version,
       l."agentNodeSourceId" AS source_id, l."agentNodeSinkId" AS sink_id,
       l."sourceName" AS source_name, l."sinkName" AS sink_name
FROM "AgentNodeLink" l JOIN "AgentNode" n ON n.id = l."agentNodeSourceId"
WHERE (n."agentGraphId", n."agentGraphVersion") IN ({_GRAPH_KEYS})
ORDER BY l.id
""")

_EPOCH = datetime(1970, 1, 1)


# Runs reach the mapping as named tuples: reading a field of SQLAlchemy's Row by name cost
# about 1 µs, more than the rest of mapping a run's fields, read some twenty times a run.
class RunRow(NamedTuple):
    """A finished run as _RUNS selects it; the values are AutoGPT's, unchecked."""

    id: Any
    graph_id: Any
    graph_version: Any
    user_id: Any
    status: Any
    created_at: Any
    started_at: Any
    ended_at: Any
    is_deleted: bool
    stats: Any
    changed_at: datetime


# A node execution as _NODE_EXECUTIONS selects it, the values AutoGPT's, unchecked: the
# Record asyncpg fetched, read by position or by column name (row["total"]). Its first
# values are execlens's node execution row, in NODE_EXECUTION_COLUMNS order. Not copied
# into a named tuple like RunRow: for a batch's thousands of rows that cost ~4 µs a run.
NodeRow: TypeAlias = asyncpg.Record


async def count_finished_runs(connection: AsyncConnection, *, since: datetime | None) -> int:
    """Return how many finished runs changed at or after ``since`` (naive UTC)."""
    count: int = (await connection.execute(_COUNT, {"since": since or _EPOCH})).scalar_one()
    return count


async def finished_runs(
    connection: AsyncConnection, *, since: datetime | None, batch: int
) -> AsyncGenerator[list[RunRow]]:
    """Yield finished runs changed at or after ``since``, oldest first, ``batch`` at a time."""
    stmt = _RUNS.execution_options(yield_per=batch)
    result = await connection.stream(stmt, {"since": since or _EPOCH})
    async for runs in result.partitions(batch):
        yield [RunRow._make(run) for run in runs]


async def node_executions(
    connection: AsyncConnection, run_ids: Sequence[str], *, head: int, tail: int
) -> list[NodeRow]:
    """Return these runs' node executions with inputs and outputs, in the order added.

    A run with more than ``head + tail`` keeps its first ``head`` and last ``tail``; each
    row carries the run's ``total`` and its ``position``.
    """
    # Straight through asyncpg, which decodes jsonb as the engine does (its codec is set
    # on the connection): SQLAlchemy's Row for each of a batch's thousands of rows cost
    # more than the rest of reading them.
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None  # an open asyncpg connection
    try:
        rows = await driver.fetch(_NODE_EXECUTIONS, list(run_ids), head, tail)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # As SQLAlchemy would raise it, so source_connection reports it as AutoGPT's.
        raise DBAPIError(_NODE_EXECUTIONS, None, exc) from exc
    return list(rows)


async def graphs(
    connection: AsyncConnection, keys: Sequence[tuple[str, int]]
) -> tuple[Sequence[AnyRow], Sequence[AnyRow], Sequence[AnyRow]]:
    """Return the graph rows, node rows and link rows of these (id, version) keys."""
    params = {"ids": [k[0] for k in keys], "versions": [k[1] for k in keys]}
    return (
        (await connection.execute(_GRAPHS, params)).all(),
        (await connection.execute(_NODES, params)).all(),
        (await connection.execute(_LINKS, params)).all(),
    )
