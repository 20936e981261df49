"""Execution digest: the run's whole story as compact JSON for the judge, shortened to fit."""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from execlens.config import DEFAULT_DIGEST_BUDGET_TOKENS, MIN_DIGEST_BUDGET_TOKENS
from execlens.executions.domain import GraphRecord, NodeRun, RunRecord
from execlens.executions.models import ExecutionStatus
from execlens.judge.digest_fit import Fitter
from execlens.judge.digest_plan import Facts
from execlens.judge.digest_render import (
    NodeInfo,
    OutputRun,
    Prepared,
    Renderer,
    TimelineStep,
)
from execlens.judge.digest_text import (
    Limits,
    clip,
    clip_text,
    dumps,
    estimate_tokens,
    is_empty,
    json_size,
)

__all__ = [
    "DEFAULT_DIGEST_BUDGET_TOKENS",
    "MIN_DIGEST_BUDGET_TOKENS",
    "ExecutionDigest",
    "build_digest",
    "delivered_nothing",
    "estimate_tokens",
    "is_output_block",
]


@dataclass(frozen=True)
class ExecutionDigest:
    """The digest text the judge reads, its size, what was cut and the share of run text kept."""

    text: str
    tokens: int
    budget: int
    cuts: tuple[str, ...]
    evidence_kept: float


def build_digest(
    run: RunRecord,
    graph: GraphRecord | None,
    *,
    budget_tokens: int = DEFAULT_DIGEST_BUDGET_TOKENS,
) -> ExecutionDigest:
    """Return the digest of a run, shortened to fit budget_tokens."""
    if budget_tokens < MIN_DIGEST_BUDGET_TOKENS:
        raise ValueError(
            f"budget_tokens must be at least {MIN_DIGEST_BUDGET_TOKENS}, got {budget_tokens}"
        )
    data = _prepare(run, graph)
    may_fit = data.total_chars <= budget_tokens * 4
    fitter = Fitter(Renderer(data), data.facts, budget_tokens, may_fit_whole=may_fit)
    fit = fitter.fit()
    if fit is None:
        text, cuts, kept = *_summary(data, [m for _, m in fitter.last_state()[1]], budget_tokens), 0
    else:
        text, cuts, kept = fit.text, fit.cuts, fit.kept
    share = 1.0 if data.total_chars == 0 else round(min(1.0, kept / data.total_chars), 4)
    return ExecutionDigest(text, estimate_tokens(text), budget_tokens, tuple(cuts), share)


def is_output_block(block_name: str | None) -> bool:
    """Tell whether a block delivers the graph's result (AutoGPT's AgentOutputBlock)."""
    return bool(block_name) and str(block_name).endswith("OutputBlock")


def delivered_nothing(run: NodeRun) -> bool:
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


def _sort_key(run: NodeRun) -> tuple[bool, float]:
    moment = run.queued_at or run.started_at or run.ended_at
    return (True, 0.0) if moment is None else (False, _aware(moment).timestamp())


def _group(run: RunRecord) -> tuple[list[NodeRun], dict[str, list[NodeRun]]]:
    """Return the runs oldest first, and the runs of each node with nodes in first-run order."""
    runs = sorted(run.node_runs, key=_sort_key)  # stable: ties keep arrival order
    by_node: dict[str, list[NodeRun]] = {}
    for node_run in runs:
        by_node.setdefault(node_run.node_id, []).append(node_run)
    order = sorted(by_node, key=lambda node_id: (*_sort_key(by_node[node_id][0]), node_id))
    return runs, {node_id: by_node[node_id] for node_id in order}


def _blocks(graph: GraphRecord | None, by_node: dict[str, list[NodeRun]]) -> dict[str, str]:
    """Return the block name of every node, graph nodes first; node ids stand in for unknowns."""
    blocks = {node.id: node.block_name or node.id for node in graph.nodes} if graph else {}
    for node_id, runs in by_node.items():
        if node_id not in blocks:
            blocks[node_id] = next((run.block_name for run in runs if run.block_name), node_id)
    return blocks


def _labels(blocks: dict[str, str]) -> dict[str, str]:
    # Numbering repeated blocks keeps links and node entries unambiguous.
    totals = Counter(blocks.values())
    seen: Counter[str] = Counter()
    labels = {}
    for node_id, block in blocks.items():
        seen[block] += 1
        labels[node_id] = f"{block}#{seen[block]}" if totals[block] > 1 else block
    return labels


def _failed(run: NodeRun) -> bool:
    return run.status == ExecutionStatus.FAILED or bool(run.error)


def _graph_input(run: NodeRun) -> tuple[Any, bool]:
    """Return what an input block's run brought in, and whether its output should show too."""
    # An input block fed by the caller (a chat's conversation, say) has an empty input and
    # carries what it was given as its output: that output is the run's input.
    if is_empty(run.input) and not is_empty(run.output):
        return run.output, False
    value = run.input.get("value") if isinstance(run.input, dict) else None
    output = run.output
    echoes = isinstance(output, dict) and all(v in (value, [value]) for v in output.values())
    return run.input, not echoes and not is_empty(output)


def _output_run(run: NodeRun) -> OutputRun:
    value = run.input.get("value") if isinstance(run.input, dict) else None
    output = run.output
    echoes = isinstance(output, dict) and set(output) <= {"output", "name"}
    echoes = echoes and output.get("output") in (value, [value])
    show_output = output is not None and not echoes
    sizes = (json_size(run.input), json_size(output) if show_output else 0, _error_size(run))
    return OutputRun(
        run.input, output, show_output, run.status.value, run.error, delivered_nothing(run), sizes
    )


def _error_size(run: NodeRun) -> int:
    return len(run.error) if run.error else 0


class _Timeline:
    """Collects the timeline steps, graph inputs and outputs, and the run text they hold."""

    def __init__(self) -> None:
        self.steps: list[TimelineStep] = []
        self.inputs: list[tuple[Any, int]] = []
        self.outputs: list[OutputRun] = []
        self.chars = 0
        self.longest_value = 0

    def add(self, run: NodeRun, label: str, role: str, occurrence: int, of: int) -> None:
        show_output = False
        sizes = (0, 0, _error_size(run))
        if role == "input":
            value, show_output = _graph_input(run)
            ref = len(self.inputs)
            self.inputs.append((value, json_size(value)))
            sizes = (0, json_size(run.output) if show_output else 0, sizes[2])
            self.chars += self.inputs[-1][1]
        elif role == "output":
            self.outputs.append(_output_run(run))
            ref = len(self.outputs) - 1
            self.chars += sum(self.outputs[-1].sizes)
            sizes = (0, 0, 0)  # the output block's error is shown with its output
        else:
            ref = -1
            sizes = (json_size(run.input), json_size(run.output), sizes[2])
            self.longest_value = max(self.longest_value, sizes[0], sizes[1])
        self.chars += sum(sizes)
        failed = _failed(run)
        self.steps.append(
            TimelineStep(label, role, run, failed, occurrence, of, ref, show_output, sizes)
        )


def _prepare(run: RunRecord, graph: GraphRecord | None) -> Prepared:
    runs, by_node = _group(run)
    blocks = _blocks(graph, by_node)
    labels = _labels(blocks)
    roles = {node_id: _role(block) for node_id, block in blocks.items()}
    descriptions = {node.id: node.description for node in graph.nodes} if graph else {}
    nodes = [
        NodeInfo(
            labels[node_id],
            roles[node_id],
            descriptions.get(node_id, ""),
            len(node_runs),
            sum(map(_failed, node_runs)),
        )
        for node_id, node_runs in by_node.items()
    ]
    timeline = _Timeline()
    seen: Counter[str] = Counter()
    for node_run in runs:
        node_id = node_run.node_id
        count = len(by_node[node_id])
        timeline.add(node_run, labels[node_id], roles[node_id], seen[node_id], count)
        seen[node_id] += 1
    links = [
        f"{labels[link.source_id]}.{link.source_name} -> {labels[link.sink_id]}.{link.sink_name}"
        for link in (graph.links if graph else ())
        if link.source_id in labels and link.sink_id in labels
    ]
    expected = [labels[node_id] for node_id in descriptions if roles[node_id] == "output"]
    ran = {node.label for node in nodes}
    missing = [label for label in expected if label not in ran]
    unknown = graph is None and any(blocks[node_id] == node_id for node_id in by_node)
    description = graph.description if graph else ""
    note = _output_note(timeline.outputs, missing, graph is not None and not expected, unknown)
    return Prepared(
        graph.name if graph else run.graph_id,
        description,
        _run_summary(run),
        timeline.inputs,
        timeline.outputs,
        note,
        nodes,
        timeline.steps,
        links,
        _facts(nodes, timeline, links, description, run.error),
        timeline.chars,
    )


def _output_note(
    outputs: list[OutputRun], missing: list[str], no_output_blocks: bool, unknown: bool
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


def _run_summary(run: RunRecord) -> dict[str, Any]:
    runs = run.node_runs
    walltime = run.walltime
    if walltime is None and run.started_at and run.ended_at:
        start, end = (_aware(moment) for moment in (run.started_at, run.ended_at))
        walltime = (end - start).total_seconds()
    return {
        "status": run.status.value,
        "node_count": len(runs) if run.node_count is None else run.node_count,
        "error_count": (
            sum(map(_failed, runs)) if run.node_error_count is None else run.node_error_count
        ),
        "walltime_seconds": None if walltime is None else round(walltime, 3),
        "error": run.error,
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _facts(
    nodes: list[NodeInfo],
    timeline: _Timeline,
    links: list[str],
    description: str,
    run_error: str | None,
) -> Facts:
    steps = timeline.steps
    middle = [step for step in steps if step.role == "node"]
    io_values = [size for _, size in timeline.inputs]
    io_values += [max(o.sizes[:2]) for o in timeline.outputs]
    errors = [len(step.run.error or "") for step in steps] + [len(run_error or "")]
    texts = [len(description), *(len(n.description) for n in nodes), *map(len, links)]
    clean = sum(not step.failed for step in middle)
    return Facts(
        longest_value=timeline.longest_value,
        longest_io=max(io_values, default=0),
        longest_error=max(errors),
        longest_description=max(texts),
        max_runs=max((node.runs for node in nodes if node.role == "node"), default=0),
        links=len(links),
        nodes=len(nodes),
        clean_steps=clean,
        io_entries=max(len(timeline.inputs), len(timeline.outputs)),
        steps=len(steps) - clean + min(clean, 2),
    )


def _summary(data: Prepared, steps: list[str], budget: int) -> tuple[str, list[str]]:
    """Return the largest run summary that fits, for when even the hardest cuts do not."""
    cuts = [*steps, "reduced the digest to a run summary"]
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
