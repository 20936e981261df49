"""Renders a prepared run as digest sections (JSON fragments) at given shortening knobs."""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from execlens.executions.domain import NodeRun
from execlens.executions.models import ExecutionStatus
from execlens.judge.digest_fit import Rendered
from execlens.judge.digest_plan import Facts, Knobs
from execlens.judge.digest_text import Limits, Tally, clip, clip_kept, clip_text, dumps, head_tail

NAME_CHARS = 500
MARKER_LABELS = 2  # blocks named in a "…[+N steps: …]" marker


@dataclass(frozen=True)
class NodeInfo:
    """A node that ran: its label, role ("input", "output" or "node"), purpose and counts."""

    label: str
    role: str
    description: str
    runs: int
    errors: int


@dataclass(frozen=True)
class OutputRun:
    """A run of an output block as the digest shows it."""

    input: Any
    output: Any
    show_output: bool
    status: str
    error: str | None
    empty: bool
    sizes: tuple[int, int, int]  # run text of its input, its output when shown, its error


@dataclass(frozen=True)
class TimelineStep:
    """One node run in time order, with where it sits in its node's runs."""

    label: str
    role: str
    run: NodeRun
    failed: bool
    occurrence: int  # 0 for the node's first run
    of: int  # how many times the node ran
    ref: int  # index in the inputs or outputs list, for input and output blocks
    show_output: bool  # for input blocks: the output is shown in the timeline too
    sizes: tuple[int, int, int]  # run text of its input, output and error as shown here


@dataclass(frozen=True)
class Prepared:
    """Everything the digest can show, before any shortening."""

    name: str
    description: str
    run: dict[str, Any]
    inputs: list[tuple[Any, int]]  # each graph input with its size as run text
    outputs: list[OutputRun]
    note: str | None
    nodes: list[NodeInfo]
    steps: list[TimelineStep]
    links: list[str]
    facts: Facts
    total_chars: int  # characters of run text: node inputs, outputs and errors


class Renderer:
    """Renders digest sections as JSON fragments for given knobs, from the prepared data."""

    def __init__(self, data: Prepared) -> None:
        self.data = data
        self.evidence = Tally()
        self.other = Tally()
        self.kept = 0
        # Steps re-render with the same limits from one fitting step to the next.
        self._steps: dict[tuple[int, Limits, Limits, Limits], tuple[str, int, int]] = {}

    def __call__(self, knobs: Knobs) -> Rendered:
        """Return each digest section, in key order, as compact JSON, with what was kept."""
        self.evidence, self.other, self.kept = Tally(), Tally(), 0
        data = self.data
        graph = {
            "name": self._other(data.name, knobs.limits(NAME_CHARS)),
            "description": self._other(data.description, knobs.limits(knobs.description_chars)),
        }
        run = dict(data.run, error=self._other(data.run["error"], knobs.limits(knobs.error_chars)))
        sections = {"graph": dumps(graph), "run": dumps(run)}
        io_limits = knobs.limits(knobs.io_chars)
        keep = self._io_keep(knobs)
        sections["inputs"] = dumps(
            head_tail(
                data.inputs, *keep, "inputs", lambda item: self._kept(item[0], item[1], io_limits)
            )
        )
        sections["outputs"] = dumps(
            head_tail(data.outputs, *keep, "outputs", lambda item: self._output(item, io_limits))
        )
        if data.note:
            sections["note"] = dumps(data.note)
        if knobs.node_list:
            sections["nodes"] = dumps(self._nodes(knobs))
        sections["timeline"] = "[" + ",".join(self._timeline(knobs)) + "]"
        if knobs.links:
            limits = knobs.limits(knobs.description_chars)
            keep = knobs.keep(len(data.links), len(data.links))
            links = head_tail(data.links, *keep, "links", lambda link: self._other(link, limits))
            sections["links"] = dumps(links)
        truncated = self.evidence.count + self.other.count
        return Rendered(sections, truncated, self.kept)

    def _io_keep(self, knobs: Knobs) -> tuple[int, int]:
        entries = max(len(self.data.inputs), len(self.data.outputs))
        wanted = entries if knobs.io_keep is None else knobs.io_keep
        return knobs.keep(wanted, wanted)

    def _other(self, value: Any, limits: Limits) -> Any:
        return clip(value, limits, self.other)

    def _kept(self, value: Any, size: int, limits: Limits) -> Any:
        clipped, kept = clip_kept(value, size, limits, self.evidence)
        self.kept += kept
        return clipped

    def _output(self, run: OutputRun, limits: Limits) -> dict[str, Any]:
        clipped = self._kept(run.input, run.sizes[0], limits)
        entry: dict[str, Any] = clipped if isinstance(clipped, dict) else {"input": clipped}
        if run.show_output:
            entry["output"] = self._kept(run.output, run.sizes[1], limits)
        if run.status != ExecutionStatus.COMPLETED.value:
            entry["status"] = run.status
        if run.error:
            entry["error"] = self._kept(run.error, run.sizes[2], limits)
        if run.empty:
            entry["empty"] = True
        return entry

    def _nodes(self, knobs: Knobs) -> list[Any]:
        limits = knobs.limits(knobs.description_chars)

        def entry(node: NodeInfo) -> dict[str, Any]:
            shown: dict[str, Any] = {"block": self._other(node.label, knobs.limits(NAME_CHARS))}
            if node.description:
                shown["description"] = self._other(node.description, limits)
            shown["runs"] = node.runs
            shown["errors"] = node.errors
            return shown

        nodes = self.data.nodes
        return head_tail(nodes, *knobs.keep(len(nodes), len(nodes)), "nodes", entry)

    def _shown(self, knobs: Knobs) -> list[bool]:
        steps = self.data.steps
        keep = knobs.loop_keep
        shown = []
        for index, step in enumerate(steps):
            essential = step.role != "node" or step.failed or index in (0, len(steps) - 1)
            in_loop = keep is not None and keep <= step.occurrence < step.of - keep
            shown.append(essential or not in_loop)
        if knobs.clean_keep is not None:
            shown = self._clean(shown, knobs.clean_keep)
        if knobs.step_cap is not None:
            kept = [index for index, flag in enumerate(shown) if flag]
            head, tail = knobs.keep(knobs.step_cap, knobs.step_cap, knobs.step_cap)
            allowed = {*kept[:head], *(kept[len(kept) - tail :] if tail else [])}
            shown = [index in allowed for index in range(len(steps))]
        return shown

    def _clean(self, shown: list[bool], keep: int) -> list[bool]:
        """Keep only the first and last keep/2 error-free intermediate steps still shown."""
        steps = self.data.steps
        last = len(steps) - 1
        clean = [
            index
            for index, step in enumerate(steps)
            if shown[index] and step.role == "node" and not step.failed and index not in (0, last)
        ]
        half = keep // 2
        dropped = set(clean[half : len(clean) - half])
        return [flag and index not in dropped for index, flag in enumerate(shown)]

    def _timeline(self, knobs: Knobs) -> list[str]:
        """Return the timeline's entries as JSON fragments, with markers for dropped steps."""
        limits = (
            knobs.limits(NAME_CHARS),
            knobs.limits(knobs.value_chars),
            knobs.limits(knobs.error_chars),
        )
        timeline: list[str] = []
        gap: list[str] = []
        for index, shown in enumerate(self._shown(knobs)):
            if not shown:
                gap.append(self.data.steps[index].label)
                continue
            if gap:
                timeline.append(dumps(_marker(gap)))
                gap = []
            key = (index, *limits)
            if key not in self._steps:
                self._steps[key] = _step(self.data.steps[index], *limits)
            text, truncated, kept = self._steps[key]
            self.evidence.count += truncated
            self.kept += kept
            timeline.append(text)
        if gap:
            timeline.append(dumps(_marker(gap)))
        return timeline


def _step(
    step: TimelineStep, names: Limits, values: Limits, errors: Limits
) -> tuple[str, int, int]:
    """Return one timeline entry as JSON, the values it truncated and the run text it kept."""
    tally = Tally()
    entry: dict[str, Any] = {"block": clip(step.label, names, tally)}
    run = step.run
    if step.role == "output":
        entry["see"] = f"outputs[{step.ref}]"
        return dumps(entry), tally.count, 0
    kept = [0, 0, 0]
    if step.role == "input":
        entry["see"] = f"inputs[{step.ref}]"
        if step.show_output:
            entry["output"], kept[1] = clip_kept(run.output, step.sizes[1], values, tally)
    else:
        entry["input"], kept[0] = clip_kept(run.input, step.sizes[0], values, tally)
        entry["output"], kept[1] = clip_kept(run.output, step.sizes[1], values, tally)
    if run.status != ExecutionStatus.COMPLETED:
        entry["status"] = run.status.value
    if run.error:
        entry["error"], kept[2] = clip_kept(run.error, step.sizes[2], errors, tally)
    return dumps(entry), tally.count, sum(kept)


def _marker(labels: list[str]) -> str:
    counts = Counter(labels).most_common()
    named = ", ".join(f"{clip_text(label, 40)} x{count}" for label, count in counts[:MARKER_LABELS])
    more = ", …" if len(counts) > MARKER_LABELS else ""
    noun = "step" if len(labels) == 1 else "steps"
    return f"…[+{len(labels)} {noun}: {named}{more}]"
