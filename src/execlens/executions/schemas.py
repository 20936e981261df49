"""Wire format of graphs and executions, shared by the REST API and JSONL import."""

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import from_json

from execlens.executions.models import ExecutionStatus

MAX_BATCH = 1_000
MAX_NODE_EXECUTIONS = 20_000

Id = Annotated[str, Field(min_length=1, max_length=200)]
# Integer columns are 32-bit on PostgreSQL; larger values must be a 422, not a 500.
Int32 = Annotated[int, Field(ge=0, le=2**31 - 1)]
# Timestamps keep the offset they came with (naive means UTC); storage converts them to
# UTC. No Python validator here: per-value Python calls would dominate import time.
UTCTimestamp = datetime
Status = ExecutionStatus


# A JSON "\u0000" escape that is not itself an escaped backslash followed by "u0000".
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
NUL_MESSAGE = "contains a NUL character (\\u0000), which PostgreSQL cannot store; remove it"


def has_nul(json_text: str | bytes) -> bool:
    """Tell whether JSON text encodes a NUL character anywhere."""
    if isinstance(json_text, bytes):
        json_text = json_text.decode("utf-8", errors="replace")
    # The substring test is C-fast; the regex only runs on the rare candidates.
    return "\\u0000" in json_text and _NUL_ESCAPE.search(json_text) is not None


def json_problem(json_text: str | bytes) -> str | None:
    """Return why JSON text cannot be stored, as "not valid JSON (...)", or None if it can.

    This is the importer's rule (it parses each line with the same pydantic parser), so the
    API and `execlens import` refuse the same records: lone surrogates ("\\udfff"), which
    no UTF-8 column can hold, and nesting deeper than the parser's limit, which could not be
    serialised back out.
    """
    try:
        from_json(json_text)
    except ValueError as exc:
        return f"not valid JSON ({exc})"
    return None


class WireModel(BaseModel):
    # Unknown fields are errors: a typo such as "graph_verison" must not be dropped silently.
    # NaN and Infinity are not JSON and neither database's JSON accepts them.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class GraphNode(WireModel):
    id: Id
    block_id: Id
    block_name: str = Field(max_length=500)
    description: str = ""


class GraphLink(WireModel):
    source_id: Id
    sink_id: Id
    source_name: str
    sink_name: str


class GraphIn(WireModel):
    """One version of a graph (an agent)."""

    id: Id
    version: Int32
    name: str = Field(min_length=1, max_length=500)
    description: str = ""
    nodes: list[GraphNode] = Field(default_factory=list)
    links: list[GraphLink] = Field(default_factory=list)

    @model_validator(mode="after")
    def _links_point_at_nodes(self) -> "GraphIn":
        node_ids = {node.id for node in self.nodes}
        if len(node_ids) != len(self.nodes):
            raise ValueError("node ids must be unique within a graph")
        for index, link in enumerate(self.links):
            for end in ("source_id", "sink_id"):
                if getattr(link, end) not in node_ids:
                    raise ValueError(
                        f"links[{index}].{end} {getattr(link, end)!r} is not a node of this graph"
                    )
        return self


class GraphOut(GraphIn):
    model_config = ConfigDict(extra="ignore", from_attributes=True)


class ExecutionStats(WireModel):
    cost: Int32 | None = Field(default=None, description="Cost in cents.")
    walltime: float | None = Field(default=None, ge=0, description="Seconds.")
    cputime: float | None = Field(default=None, ge=0, description="Seconds.")
    node_count: Int32 | None = None
    node_error_count: Int32 | None = None
    error: str | None = None
    activity_status: str | None = None
    correctness_score: float | None = Field(default=None, ge=0, le=1)


class NodeExecutionIn(WireModel):
    id: Id
    node_id: Id
    block_name: str | None = Field(default=None, max_length=500)
    status: Status
    input: Any = None
    output: Any = None
    error: str | None = None
    queued_at: UTCTimestamp | None = None
    started_at: UTCTimestamp | None = None
    ended_at: UTCTimestamp | None = None


class ExecutionIn(WireModel):
    """One execution of a graph with its node executions."""

    id: Id
    graph_id: Id
    graph_version: Int32
    user_id: Id
    status: Status
    created_at: UTCTimestamp
    started_at: UTCTimestamp | None = None
    ended_at: UTCTimestamp | None = None
    stats: ExecutionStats = Field(default_factory=ExecutionStats)
    # Unique node execution ids are checked per batch (ensure_unique_ids), once.
    node_executions: list[NodeExecutionIn] = Field(
        default_factory=list, max_length=MAX_NODE_EXECUTIONS
    )


class ExecutionBatch(WireModel):
    """Up to 1,000 executions, written together or not at all."""

    executions: list[ExecutionIn] = Field(min_length=1, max_length=MAX_BATCH)

    @model_validator(mode="after")
    def _unique_ids(self) -> "ExecutionBatch":
        ensure_unique_ids(self.executions)
        return self


class DuplicateIdError(ValueError):
    """An id repeats in one batch; ``index`` is the execution where it repeats."""

    def __init__(self, index: int, problem: str) -> None:
        super().__init__(f"executions[{index}].{problem}")
        self.index = index
        self.problem = problem


def ensure_unique_ids(executions: Sequence[ExecutionIn]) -> None:
    """Raise DuplicateIdError when an execution or node execution id repeats in one batch."""
    execution_ids: set[str] = set()
    node_ids: set[str] = set()
    for index, execution in enumerate(executions):
        if execution.id in execution_ids:
            raise DuplicateIdError(index, f"id {execution.id!r} appears twice in the batch")
        seen_here: set[str] = set()
        execution_ids.add(execution.id)
        for node_index, node in enumerate(execution.node_executions):
            if node.id in seen_here:
                raise DuplicateIdError(
                    index, f"node_executions[{node_index}].id {node.id!r} appears twice"
                )
            if node.id in node_ids:
                raise DuplicateIdError(
                    index,
                    f"node_executions[{node_index}].id {node.id!r} is also used by "
                    "another execution in the batch",
                )
            seen_here.add(node.id)
            node_ids.add(node.id)


class GraphLine(GraphIn):
    kind: Literal["graph"]


class ExecutionLine(ExecutionIn):
    kind: Literal["execution"]


ImportLine = Annotated[GraphLine | ExecutionLine, Field(discriminator="kind")]


class IngestResult(BaseModel):
    executions: int = Field(description="Executions written (inserted or updated).")
    node_executions: int = Field(description="Node executions written.")


class GraphUpsertResult(BaseModel):
    id: str
    version: int


class NodeExecutionOut(NodeExecutionIn):
    model_config = ConfigDict(extra="ignore")


class ExecutionSummary(BaseModel):
    """An execution without its node executions, as listed."""

    id: str
    graph_id: str
    graph_version: int
    user_id: str
    status: ExecutionStatus
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    stats: ExecutionStats


class ExecutionOut(ExecutionSummary):
    node_executions: list[NodeExecutionOut]


class ExecutionPage(BaseModel):
    items: list[ExecutionSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class GraphSummary(BaseModel):
    """One agent with its executions: counts, the mean score (0 to 1) and its newest version."""

    graph_id: str
    name: str
    latest_version: int
    executions: int
    completed: int
    failed: int
    scored: int
    mean_score: float | None


class GraphList(BaseModel):
    items: list[GraphSummary]
