"""Execution digest: the compact JSON an LLM judge reads, shortened to fit a token budget."""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from execlens.executions.models import ExecutionStatus
from execlens.executions.schemas import ExecutionOut, GraphOut, NodeExecutionOut
from execlens.judge.digest_budget import (
    Facts,
    Fitter,
    Knobs,
    Limits,
    Tally,
    clip,
    clip_text,
    dumps,
    estimate_tokens,
    head_tail,
    is_empty,
)

__all__ = [
    "DEFAULT_BUDGET_TOKENS",
    "MIN_BUDGET_TOKENS",
    "ExecutionDigest",
    "build_digest",
    "delivered_nothing",
    "estimate_tokens",
    "is_output_block",
]

DEFAULT_BUDGET_TOKENS = 6_000
MIN_BUDGET_TOKENS = 200
_NAME_CHARS = 500
_NODE_DESCRIPTION_CHARS = 300
_LINK_CHARS = 300
_RUN_ERROR_CHARS = 1_000


@dataclass(frozen=True)
class ExecutionDigest:
    """The digest text the judge reads, its estimated size and what was cut to fit."""

    text: str
    tokens: int
    budget: int
    cuts: tuple[str, ...]


@dataclass(frozen=True)
class _Node:
    label: str
    role: str  # "input", "output" or "node" (intermediate)
    description: str
    runs: list[NodeExecutionOut]  # oldest first
    errors: list[str]


@dataclass(frozen=True)
class _OutputRun:
    input: Any
    output: Any
    show_output: bool
    status: str
    error: str | None
    empty: bool


@dataclass(frozen=True)
class _Prepared:
    name: str
    description: str
    run: dict[str, Any]
    inputs: list[Any]
    outputs: list[_OutputRun]
    note: str | None
    nodes: list[_Node]
    links: list[str]
    facts: Facts


def build_digest(
    execution: ExecutionOut, graph: GraphOut | None, *, budget_tokens: int = DEFAULT_BUDGET_TOKENS
) -> ExecutionDigest:
    """Return the digest of an execution, shortened to fit budget_tokens."""
    if budget_tokens < MIN_BUDGET_TOKENS:
        raise ValueError(f"budget_tokens must be at least {MIN_BUDGET_TOKENS}, got {budget_tokens}")
    data = _prepare(execution, graph)
    fitter = Fitter(_Renderer(data).sections, data.facts, budget_tokens)
    text, cuts = fitter.fit() or _summary(data, fitter, budget_tokens)
    return ExecutionDigest(text, estimate_tokens(text), budget_tokens, tuple(cuts))


def is_output_block(block_name: str | None) -> bool:
    """Tell whether a block delivers the graph's result (AutoGPT's AgentOutputBlock)."""
    return bool(block_name) and block_name.endswith("OutputBlock")


def delivered_nothing(run: NodeExecutionOut) -> bool:
    """Tell whether an output block's run left both its value pin and its output empty."""
    # AgentOutputBlock receives the result on its "value" pin and emits it as "output".
    value = run.input.get("value") if isinstance(run.input, dict) else None
    emitted = run.output
    if isinstance(emitted, dict):
        emitted = {key: item for key, item in emitted.items() if key != "name"}
    return is_empty(emitted) and is_empty(value)


def _role(block: str) -> str:
    if block.endswith("InputBlock"):
        return "input"
    return "output" if is_output_block(block) else "node"


def _sort_key(run: NodeExecutionOut) -> tuple[bool, float]:
    moment = run.queued_at or run.started_at or run.ended_at
    return (True, 0.0) if moment is None else (False, _aware(moment).timestamp())


def _group(
    execution: ExecutionOut,
) -> tuple[list[NodeExecutionOut], dict[str, list[NodeExecutionOut]]]:
    """Return the runs oldest first, and the runs of each node with nodes in first-run order."""
    runs = sorted(execution.node_executions, key=_sort_key)  # stable: ties keep arrival order
    by_node: dict[str, list[NodeExecutionOut]] = {}
    for run in runs:
        by_node.setdefault(run.node_id, []).append(run)
    order = sorted(by_node, key=lambda node_id: (*_sort_key(by_node[node_id][0]), node_id))
    return runs, {node_id: by_node[node_id] for node_id in order}


def _blocks(graph: GraphOut | None, by_node: dict[str, list[NodeExecutionOut]]) -> dict[str, str]:
    """Return the block name of every node, graph nodes first; node ids stand in for unknowns."""
    blocks = {node.id: node.block_name or node.id for node in graph.nodes} if graph else {}
    for node_id, runs in by_node.items():
        if node_id not in blocks:
            blocks[node_id] = next((run.block_name for run in runs if run.block_name), node_id)
    return blocks


def _prepare(execution: ExecutionOut, graph: GraphOut | None) -> _Prepared:
    runs, by_node = _group(execution)
    blocks = _blocks(graph, by_node)
    labels = _labels(blocks)
    descriptions = {node.id: node.description for node in graph.nodes} if graph else {}
    nodes = [
        _Node(
            labels[node_id],
            _role(blocks[node_id]),
            descriptions.get(node_id, ""),
            node_runs,
            [_error_text(run) for run in node_runs if _failed(run)],
        )
        for node_id, node_runs in by_node.items()
    ]
    inputs = [run.input for run in runs if _role(blocks[run.node_id]) == "input"]
    outputs = [_output_run(run) for run in runs if _role(blocks[run.node_id]) == "output"]
    links = [
        f"{labels[link.source_id]}.{link.source_name} -> {labels[link.sink_id]}.{link.sink_name}"
        for link in (graph.links if graph else [])
    ]
    expected = [labels[node_id] for node_id in descriptions if _role(blocks[node_id]) == "output"]
    ran = {node.label for node in nodes}
    missing = [label for label in expected if label not in ran]
    unknown = graph is None and any(blocks[node_id] == node_id for node_id in by_node)
    description = graph.description if graph else ""
    return _Prepared(
        graph.name if graph else execution.graph_id,
        description,
        _run_summary(execution),
        inputs,
        outputs,
        _output_note(outputs, missing, graph is not None and not expected, unknown),
        nodes,
        links,
        _facts(nodes, links, inputs, outputs, description),
    )


def _labels(blocks: dict[str, str]) -> dict[str, str]:
    # Numbering repeated blocks keeps links and node entries unambiguous.
    totals = Counter(blocks.values())
    seen: Counter[str] = Counter()
    labels = {}
    for node_id, block in blocks.items():
        seen[block] += 1
        labels[node_id] = f"{block}#{seen[block]}" if totals[block] > 1 else block
    return labels


def _failed(run: NodeExecutionOut) -> bool:
    return run.status == ExecutionStatus.FAILED or bool(run.error)


def _error_text(run: NodeExecutionOut) -> str:
    return run.error or f"status {run.status.value} without an error message"


def _output_run(run: NodeExecutionOut) -> _OutputRun:
    value = run.input.get("value") if isinstance(run.input, dict) else None
    output = run.output
    echoes = isinstance(output, dict) and set(output) <= {"output", "name"}
    echoes = echoes and output.get("output") in (value, [value])
    return _OutputRun(
        run.input,
        output,
        output is not None and not echoes,
        run.status.value,
        run.error,
        delivered_nothing(run),
    )


def _output_note(
    outputs: list[_OutputRun], missing: list[str], no_output_blocks: bool, unknown: bool
) -> str | None:
    if no_output_blocks:
        return "the graph has no output blocks: judge the result from what its nodes did"
    parts = []
    if not outputs and unknown:
        parts.append("no output block identified: some block names are unknown")
    elif not outputs:
        parts.append("no output block ran: the run produced no result")
    empty = sum(run.empty for run in outputs)
    if empty:
        parts.append(f'{empty} of {len(outputs)} output block runs produced nothing ("empty")')
    if missing and outputs:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        names = ", ".join(clip_text(label, 60) for label in missing[:5])
        parts.append(f"output blocks that never ran: {names}{more}")
    return "; ".join(parts) or None


def _run_summary(execution: ExecutionOut) -> dict[str, Any]:
    stats = execution.stats
    runs = execution.node_executions
    walltime = stats.walltime
    if walltime is None and execution.started_at and execution.ended_at:
        start, end = (_aware(moment) for moment in (execution.started_at, execution.ended_at))
        walltime = (end - start).total_seconds()
    return {
        "status": execution.status.value,
        "node_count": len(runs) if stats.node_count is None else stats.node_count,
        "error_count": (
            sum(map(_failed, runs)) if stats.node_error_count is None else stats.node_error_count
        ),
        "walltime_seconds": None if walltime is None else round(walltime, 3),
        "error": stats.error,
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _facts(
    nodes: list[_Node], links: list[str], inputs: list[Any], outputs: list[Any], description: str
) -> Facts:
    intermediate = [node for node in nodes if node.role == "node"]
    clean = sum(not node.errors for node in intermediate)
    return Facts(
        intermediate=len(intermediate),
        repeated=sum(len(node.runs) > 1 for node in intermediate),
        max_errors=max((len(node.errors) for node in nodes), default=0),
        links=len(links),
        described=sum(bool(node.description) for node in nodes),
        clean=clean,
        essential=len(nodes) - clean,
        io_entries=max(len(inputs), len(outputs)),
        description=len(description),
    )


class _Renderer:
    """Renders digest sections as JSON fragments for given knobs, from the prepared data."""

    def __init__(self, data: _Prepared) -> None:
        self.data = data
        self.tally = Tally()

    def sections(self, knobs: Knobs) -> tuple[dict[str, str], int]:
        """Return each digest section, in key order, as compact JSON, and the values clipped."""
        self.tally = Tally()
        data = self.data
        graph = {
            "name": self._clip(data.name, knobs.limits(_NAME_CHARS)),
            "description": self._clip(data.description, knobs.limits(knobs.description_chars)),
        }
        run = dict(data.run, error=self._clip(data.run["error"], knobs.limits(_RUN_ERROR_CHARS)))
        sections = {"graph": dumps(graph), "run": dumps(run)}
        sections["inputs"] = dumps(self._io(data.inputs, knobs, "inputs", self._clip))
        sections["outputs"] = dumps(self._io(data.outputs, knobs, "outputs", self._output))
        if data.note:
            sections["note"] = dumps(data.note)
        nodes = [
            node for node in data.nodes if knobs.clean_nodes or node.role != "node" or node.errors
        ]
        keep = knobs.keep(len(nodes), len(nodes), knobs.node_cap)
        sections["nodes"] = dumps(head_tail(nodes, *keep, "nodes", lambda n: self._node(n, knobs)))
        if knobs.links:
            limits = knobs.limits(_LINK_CHARS)
            keep = knobs.keep(len(data.links), len(data.links))
            links = head_tail(data.links, *keep, "links", lambda link: self._clip(link, limits))
            sections["links"] = dumps(links)
        return sections, self.tally.count

    def _clip(self, value: Any, limits: Limits) -> Any:
        return clip(value, limits, self.tally)

    def _io(
        self, items: list[Any], knobs: Knobs, noun: str, render: Callable[[Any, Limits], Any]
    ) -> list[Any]:
        limits = knobs.limits(knobs.io_chars)
        keep = knobs.keep(knobs.io_keep, knobs.io_keep)
        return head_tail(items, *keep, noun, lambda item: render(item, limits))

    def _output(self, run: _OutputRun, limits: Limits) -> dict[str, Any]:
        if isinstance(run.input, dict):
            entry = self._clip(run.input, limits)
        else:
            entry = {"input": self._clip(run.input, limits)}
        if run.show_output:
            entry["output"] = self._clip(run.output, limits)
        if run.status != ExecutionStatus.COMPLETED.value:
            entry["status"] = run.status
        if run.error:
            entry["error"] = self._clip(run.error, limits)
        if run.empty:
            entry["empty"] = True
        return entry

    def _node(self, node: _Node, knobs: Knobs) -> dict[str, Any]:
        entry: dict[str, Any] = {"block": self._clip(node.label, knobs.limits(_NAME_CHARS))}
        if knobs.node_descriptions and node.description:
            limits = knobs.limits(_NODE_DESCRIPTION_CHARS)
            entry["description"] = self._clip(node.description, limits)
        entry["runs"] = len(node.runs)
        entry["errors"] = len(node.errors)
        if node.errors:
            limits = knobs.limits(knobs.error_chars)
            keep = knobs.keep(knobs.error_keep, knobs.error_keep)
            convert = lambda error: self._clip(error, limits)  # noqa: E731
            entry["recent_errors"] = head_tail(node.errors, *keep, "errors", convert)
        if node.role == "node" and knobs.latest_n:  # input/output runs are listed on their own
            limits = knobs.limits(knobs.latest_chars)
            entry["latest"] = [self._example(run, limits) for run in node.runs[-knobs.latest_n :]]
        return entry

    def _example(self, run: NodeExecutionOut, limits: Limits) -> dict[str, Any]:
        example = {"input": self._clip(run.input, limits), "output": self._clip(run.output, limits)}
        if run.status != ExecutionStatus.COMPLETED:
            example["status"] = run.status.value
        return example


def _summary(data: _Prepared, fitter: Fitter, budget: int) -> tuple[str, list[str]]:
    """Return the largest run summary that fits, for when even the hardest cuts do not."""
    cuts = [*fitter.cuts(fitter.knobs, fitter.steps), "reduced the digest to a run summary"]
    cut = f"reduced to a run summary to fit the budget ({len(cuts)} cuts)"
    limits = Limits(40, items=0, depth=0)
    run = {key: clip(value, limits) for key, value in data.run.items()}
    graph = {"name": clip(data.name, limits)}
    note = {"note": clip_text(data.note, 150)} if data.note else {}
    texts = [
        dumps({"graph": graph, "run": run, **note, "cuts": [cut]}),
        dumps({"graph": graph, "run": run, "cuts": [cut]}),
        # Under 40 tokens, far below the minimum budget.
        dumps({"run": {"status": data.run["status"]}, "cuts": [cut]}),
    ]
    return next((text for text in texts if estimate_tokens(text) <= budget), texts[-1]), cuts
