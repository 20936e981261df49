"""A run as other capabilities read it (the judge, labels): plain data, not the wire format."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from execlens.executions.models import ExecutionStatus
from execlens.executions.schemas import ExecutionOut, GraphOut, NodeExecutionOut


@dataclass(frozen=True, slots=True)
class NodeRun:
    """One run of one node: what it got, what it gave, and how it ended."""

    id: str
    node_id: str
    block_name: str | None
    status: ExecutionStatus
    input: Any
    output: Any
    error: str | None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One execution of a graph with its node runs, as stored."""

    id: str
    graph_id: str
    graph_version: int
    status: ExecutionStatus
    started_at: datetime | None
    ended_at: datetime | None
    node_runs: tuple[NodeRun, ...]
    walltime: float | None = None
    node_count: int | None = None
    node_error_count: int | None = None
    error: str | None = None
    # The run's current summary and score: its latest verdict's, or what it came with.
    activity_status: str | None = None
    correctness_score: float | None = None


@dataclass(frozen=True, slots=True)
class GraphNodeFacts:
    """A node of a graph: its id, block and what it is for."""

    id: str
    block_name: str
    description: str


@dataclass(frozen=True, slots=True)
class GraphLinkFacts:
    """A link from one node's output pin to another node's input pin."""

    source_id: str
    sink_id: str
    source_name: str
    sink_name: str


@dataclass(frozen=True, slots=True)
class GraphRecord:
    """One version of a graph: its name, purpose, nodes and links."""

    id: str
    version: int
    name: str
    description: str
    nodes: tuple[GraphNodeFacts, ...]
    links: tuple[GraphLinkFacts, ...]


def _node_run(run: NodeExecutionOut) -> NodeRun:
    return NodeRun(
        id=run.id,
        node_id=run.node_id,
        block_name=run.block_name,
        status=run.status,
        input=run.input,
        output=run.output,
        error=run.error,
        queued_at=run.queued_at,
        started_at=run.started_at,
        ended_at=run.ended_at,
    )


def run_record(execution: ExecutionOut) -> RunRecord:
    """Return the run an execution read from the API or the database describes."""
    stats = execution.stats
    return RunRecord(
        id=execution.id,
        graph_id=execution.graph_id,
        graph_version=execution.graph_version,
        status=execution.status,
        started_at=execution.started_at,
        ended_at=execution.ended_at,
        node_runs=tuple(_node_run(run) for run in execution.node_executions),
        walltime=stats.walltime,
        node_count=stats.node_count,
        node_error_count=stats.node_error_count,
        error=stats.error,
        activity_status=stats.activity_status,
        correctness_score=stats.correctness_score,
    )


def graph_record(graph: GraphOut) -> GraphRecord:
    """Return the graph version a stored graph describes."""
    return GraphRecord(
        id=graph.id,
        version=graph.version,
        name=graph.name,
        description=graph.description,
        nodes=tuple(GraphNodeFacts(n.id, n.block_name, n.description) for n in graph.nodes),
        links=tuple(
            GraphLinkFacts(link.source_id, link.sink_id, link.source_name, link.sink_name)
            for link in graph.links
        ),
    )


def runs_from_rows(runs: Iterable[Any], node_runs: Iterable[Any]) -> dict[str, RunRecord]:
    """Return runs by id from plain rows of runs and of their node runs, each in order.

    A node run's row starts with its run's id; the other fields are named as here.
    """
    nodes: dict[str, list[NodeRun]] = {}
    for row in node_runs:
        nodes.setdefault(row.execution_id, []).append(
            NodeRun(
                id=row.id,
                node_id=row.node_id,
                block_name=row.block_name,
                status=row.status,
                input=row.input_data,
                output=row.output_data,
                error=row.error,
                queued_at=row.queued_at,
                started_at=row.started_at,
                ended_at=row.ended_at,
            )
        )
    return {
        row.id: RunRecord(
            id=row.id,
            graph_id=row.graph_id,
            graph_version=row.graph_version,
            status=row.status,
            started_at=row.started_at,
            ended_at=row.ended_at,
            node_runs=tuple(nodes.get(row.id, ())),
            walltime=row.walltime,
            node_count=row.node_count,
            node_error_count=row.node_error_count,
            error=row.error,
            activity_status=row.activity_status,
            correctness_score=row.correctness_score,
        )
        for row in runs
    }
