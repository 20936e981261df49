"""AutoGPT's platform schema in the test PostgreSQL, and factories that write as its executor."""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

DDL = (Path(__file__).parent / "ddl.sql").read_text()
INPUT_BLOCK = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT_BLOCK = "363ae599-353e-4804-937e-b2ee3cef3da4"
LLM_BLOCK = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
BLOCKS = {
    INPUT_BLOCK: "AgentInputBlock",
    OUTPUT_BLOCK: "AgentOutputBlock",
    LLM_BLOCK: "AITextGeneratorBlock",
}
TABLES = (
    '"AgentNodeExecutionInputOutput", "AgentNodeExecution", "AgentGraphExecution", '
    '"AgentNodeLink", "AgentNode", "AgentGraph", "AgentBlock", "User"'
)


def now() -> datetime:
    """Return the current time as AutoGPT stores it: naive UTC, milliseconds."""
    moment = datetime.now(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def dsn(postgres_url: str) -> str:
    """Return asyncpg's form of the test database's SQLAlchemy URL."""
    return postgres_url.replace("postgresql+asyncpg://", "postgresql://")


async def create_schema(postgres_url: str, schema: str) -> None:
    """Create AutoGPT's tables in ``schema``, dropping any earlier copy."""
    connection = await asyncpg.connect(dsn(postgres_url))
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await connection.execute(f'CREATE SCHEMA "{schema}"')
        await connection.execute(f'SET search_path TO "{schema}"')
        await connection.execute(DDL)
    finally:
        await connection.close()


@dataclass
class Step:
    """One node execution: what went in, what came out, how it ended."""

    node: str
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: list[tuple[str, Any]] = field(default_factory=list)
    status: str = "COMPLETED"
    error: str | None = None
    execution_data: bool = True
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    id: str
    version: int
    nodes: dict[str, str]  # node id -> block id


class AutoGPTDatabase:
    """Writes graphs and runs into AutoGPT's tables as its executor would."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.db = connection

    async def reset(self) -> None:
        """Empty every table, then add the blocks and a user."""
        await self.db.execute(f"TRUNCATE {TABLES} CASCADE")
        for block_id, name in BLOCKS.items():
            await self.db.execute(
                'INSERT INTO "AgentBlock" (id, name, "inputSchema", "outputSchema") '
                "VALUES ($1, $2, '{}', '{}')",
                block_id,
                name,
            )
        await self.user("user-1")

    async def user(self, user_id: str) -> None:
        """Add a user."""
        await self.db.execute(
            'INSERT INTO "User" (id, email) VALUES ($1, $2)', user_id, f"{user_id}@example.com"
        )

    async def graph(self, graph_id: str = "graph-1", version: int = 1) -> Graph:
        """Add an input → LLM → output graph; return it."""
        nodes = {
            f"{graph_id}-v{version}-in": INPUT_BLOCK,
            f"{graph_id}-v{version}-llm": LLM_BLOCK,
            f"{graph_id}-v{version}-out": OUTPUT_BLOCK,
        }
        await self.db.execute(
            'INSERT INTO "AgentGraph" (id, version, name, description, "userId") '
            "VALUES ($1, $2, 'Email triager', 'Sorts the inbox', 'user-1')",
            graph_id,
            version,
        )
        for node_id, block_id in nodes.items():
            await self.db.execute(
                'INSERT INTO "AgentNode" (id, "agentBlockId", "agentGraphId", '
                '"agentGraphVersion") VALUES ($1, $2, $3, $4)',
                node_id,
                block_id,
                graph_id,
                version,
            )
        ids = list(nodes)
        for source, sink, source_name, sink_name in (
            (ids[0], ids[1], "result", "prompt"),
            (ids[1], ids[2], "response", "value"),
        ):
            await self.db.execute(
                'INSERT INTO "AgentNodeLink" (id, "agentNodeSourceId", "sourceName", '
                '"agentNodeSinkId", "sinkName") VALUES ($1, $2, $3, $4, $5)',
                str(uuid.uuid4()),
                source,
                source_name,
                sink,
                sink_name,
            )
        return Graph(graph_id, version, nodes)

    async def run(
        self,
        graph: Graph,
        run_id: str,
        *,
        status: str = "COMPLETED",
        at: datetime | None = None,
        stats: dict | None = None,
        steps: list[Step] | None = None,
        user_id: str = "user-1",
    ) -> None:
        """Add a run created at ``at`` with its node executions; finished ones end 5 s later."""
        created = at or now() - timedelta(minutes=5)
        finished = status in ("COMPLETED", "FAILED", "TERMINATED")
        ended = created + timedelta(seconds=5) if finished else None
        await self.db.execute(
            'INSERT INTO "AgentGraphExecution" (id, "createdAt", "updatedAt", "startedAt", '
            '"endedAt", "executionStatus", "agentGraphId", "agentGraphVersion", "userId", '
            "stats, inputs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '{}')",
            run_id,
            created,
            ended or created,
            created,
            ended,
            status,
            graph.id,
            graph.version,
            user_id,
            None if stats is None else json.dumps(stats),
        )
        for index, step in enumerate(steps or []):
            await self.step(run_id, f"{run_id}-n{index}", step, created + timedelta(seconds=index))

    async def step(self, run_id: str, node_exec_id: str, step: Step, at: datetime) -> None:
        """Add one node execution with its input rows and output rows."""
        ended = at + timedelta(milliseconds=500) if step.status in ("COMPLETED", "FAILED") else None
        stats = {"walltime": 0.5, "cputime": 0.1, **step.stats}
        if step.error:
            stats["error"] = step.error
        await self.db.execute(
            'INSERT INTO "AgentNodeExecution" (id, "agentGraphExecutionId", "agentNodeId", '
            '"executionStatus", "executionData", "addedTime", "queuedTime", "startedTime", '
            '"endedTime", stats) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
            node_exec_id,
            run_id,
            step.node,
            step.status,
            json.dumps(step.inputs) if step.execution_data else None,
            at,
            at,
            at + timedelta(milliseconds=100),
            ended,
            json.dumps(stats),
        )
        for name, value in step.inputs.items():
            await self.io(name, value, at, input_of=node_exec_id)
        for offset, (name, value) in enumerate(step.outputs):
            when = at + timedelta(milliseconds=200 + offset)
            await self.io(name, value, when, output_of=node_exec_id)

    async def io(
        self,
        name: str,
        value: Any,
        at: datetime,
        *,
        input_of: str | None = None,
        output_of: str | None = None,
    ) -> None:
        """Add one input or output row; a None value is stored as NULL, as AutoGPT does."""
        await self.db.execute(
            'INSERT INTO "AgentNodeExecutionInputOutput" (id, name, data, time, '
            '"referencedByInputExecId", "referencedByOutputExecId") '
            "VALUES ($1, $2, $3, $4, $5, $6)",
            str(uuid.uuid4()),
            name,
            None if value is None else json.dumps(value),
            at,
            input_of,
            output_of,
        )

    async def many_runs(self, graph: Graph, count: int, *, steps: int = 5) -> None:
        """Add ``count`` completed runs of ``steps`` LLM node executions each, in bulk."""
        node = next(n for n, b in graph.nodes.items() if b == LLM_BLOCK)
        base = now() - timedelta(minutes=30)
        await self.db.execute(
            'INSERT INTO "AgentGraphExecution" (id, "createdAt", "updatedAt", "startedAt", '
            '"endedAt", "executionStatus", "agentGraphId", "agentGraphVersion", "userId", stats) '
            "SELECT 'bulk-' || lpad(i::text, 6, '0'), $1::timestamp + i * interval '1 ms', "
            "$1::timestamp + i * interval '1 ms', $1, $1, 'COMPLETED', $2, $3, 'user-1', "
            "'{\"cost\": 3}' FROM generate_series(1, $4) i",
            base,
            graph.id,
            graph.version,
            count,
        )
        await self.db.execute(
            'INSERT INTO "AgentNodeExecution" (id, "agentGraphExecutionId", "agentNodeId", '
            '"executionStatus", "executionData", "addedTime", "queuedTime") '
            "SELECT 'bulk-' || lpad(i::text, 6, '0') || '-n' || s, "
            "'bulk-' || lpad(i::text, 6, '0'), $1, 'COMPLETED', "
            "jsonb_build_object('prompt', 'step ' || s), $2::timestamp + s * interval '1 s', "
            "$2::timestamp + s * interval '1 s' "
            "FROM generate_series(1, $3) i, generate_series(1, $4) s",
            node,
            base,
            count,
            steps,
        )
        await self.db.execute(
            'INSERT INTO "AgentNodeExecutionInputOutput" (id, name, data, time, '
            '"referencedByOutputExecId") '
            "SELECT ne.id || '-out', 'response', to_jsonb('answer ' || ne.id), "
            'ne."addedTime", ne.id '
            'FROM "AgentNodeExecution" ne WHERE ne."agentGraphExecutionId" LIKE \'bulk-%\''
        )

    async def huge_run(self, graph: Graph, run_id: str, steps: int) -> None:
        """Add a completed run with ``steps`` LLM node executions, each with one output."""
        await self.run(graph, run_id)
        node = next(n for n, b in graph.nodes.items() if b == LLM_BLOCK)
        await self.db.execute(
            'INSERT INTO "AgentNodeExecution" (id, "agentGraphExecutionId", "agentNodeId", '
            '"executionStatus", "addedTime", "queuedTime") '
            "SELECT $1 || '-n' || lpad(s::text, 6, '0'), $1, $2, 'COMPLETED', "
            "$3::timestamp + s * interval '1 ms', $3::timestamp + s * interval '1 ms' "
            "FROM generate_series(1, $4) s",
            run_id,
            node,
            now() - timedelta(hours=1),
            steps,
        )
        await self.db.execute(
            'INSERT INTO "AgentNodeExecutionInputOutput" (id, name, data, time, '
            '"referencedByOutputExecId") '
            "SELECT ne.id || '-out', 'response', to_jsonb(ne.id), ne.\"addedTime\", ne.id "
            'FROM "AgentNodeExecution" ne WHERE ne."agentGraphExecutionId" = $1',
            run_id,
        )

    async def finish(self, run_id: str, status: str = "COMPLETED", stats: dict | None = None):
        """End a running run now, as update_graph_execution_stats does (Prisma sets updatedAt)."""
        moment = now()
        await self.db.execute(
            'UPDATE "AgentGraphExecution" SET "executionStatus" = $2, "endedAt" = $3, '
            '"updatedAt" = $3, stats = coalesce($4::jsonb, stats) WHERE id = $1',
            run_id,
            status,
            moment,
            None if stats is None else json.dumps(stats),
        )

    async def soft_delete(self, run_id: str) -> None:
        """Mark a run deleted now, as AutoGPT's delete does."""
        await self.db.execute(
            'UPDATE "AgentGraphExecution" SET "isDeleted" = true, "updatedAt" = $2 WHERE id = $1',
            run_id,
            now(),
        )
