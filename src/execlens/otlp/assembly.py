"""Put a trace's spans together into one execution with its node executions and graph."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any, NamedTuple

from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ScopeSpans, Span
from pydantic_core import from_json, to_json

from execlens.executions.models import ExecutionStatus
from execlens.executions.schemas import (
    ExecutionIn,
    ExecutionStats,
    GraphIn,
    GraphLink,
    GraphNode,
)
from execlens.otlp import mapping

GRAPH_VERSION = 1
UNKNOWN_USER = "unknown"
NOTE_BLOCK = "execlens note"
_ID_CHARS = 200
_COMPLETED = ExecutionStatus.COMPLETED.value
_FAILED = ExecutionStatus.FAILED.value


@dataclass(frozen=True)
class Limits:
    """How much of one trace is kept: spans, and characters per input or output value."""

    max_spans: int
    max_value_chars: int


@dataclass
class ParsedSpan:
    """One staged span, decoded, with its attributes and its resource's."""

    span_id: str
    parent_span_id: str | None
    span: Span
    attrs: dict[str, Any]
    resource: dict[str, Any]
    start_ns: int
    end_ns: int

    @property
    def start(self) -> datetime | None:
        """Return when the span started, if it says."""
        return mapping.timestamp(self.start_ns)

    @property
    def end(self) -> datetime | None:
        """Return when the span ended, if it says."""
        return mapping.timestamp(self.end_ns)


def parse_staged(
    rows: Sequence[tuple[bytes, bytes]], resources: dict[bytes, dict[str, Any]]
) -> list[ParsedSpan]:
    """Decode a trace's staged (resource, spans) rows; ``resources`` caches resources.

    Rows come in the order received: a span sent again replaces the earlier copy.
    """
    parsed: dict[str, ParsedSpan] = {}
    for resource_bytes, spans_bytes in rows:
        if resource_bytes not in resources:
            resources[resource_bytes] = mapping.attributes(
                Resource.FromString(resource_bytes).attributes
            )
        resource = resources[resource_bytes]
        for span in ScopeSpans.FromString(spans_bytes).spans:
            span_id = span.span_id.hex()
            parsed[span_id] = ParsedSpan(
                span_id,
                span.parent_span_id.hex() or None,
                span,
                mapping.attributes(span.attributes),
                resource,
                span.start_time_unix_nano,
                span.end_time_unix_nano,
            )
    return list(parsed.values())


class NodeRow(NamedTuple):
    """A node execution as stored: the columns of executions.repository.NODE_EXECUTION_COLUMNS.

    Rows rather than NodeExecutionIn: every value is made here to fit (ids cut, times
    parsed), and building and validating a model cost more than assembling the span.
    Inputs, outputs and errors are JSON text, times UTC text, as the bulk path stores them.
    """

    id: str
    execution_id: str
    node_id: str
    block_name: str
    status: str
    input_data: str | None
    output_data: str | None
    error: str | None
    queued_at: str | None
    started_at: str | None
    ended_at: str | None


@dataclass
class AssembledRun:
    """What a trace becomes: the execution (without its nodes), its node rows, its graph."""

    execution: ExecutionIn
    nodes: list[NodeRow]
    graph: "GraphBlocks"
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GraphBlocks:
    """The blocks one run used (node id to block name), and which block called which."""

    id: str
    blocks: dict[str, str]
    links: frozenset[tuple[str, str]]


@dataclass
class _Trimmer:
    max_chars: int
    trimmed: int = 0

    def bound(self, value: Any, *, parse: bool = True) -> str | None:
        """Return ``value`` as JSON text (JSON text sent as the value it encodes), cut to the limit.

        A value longer than the limit becomes a JSON string of its text, cut.
        """
        if value is None:
            return None
        text = value if isinstance(value, str) else to_json(value, fallback=str).decode()
        text = mapping.storable(text)
        if len(text) > self.max_chars:
            self.trimmed += 1
            cut = len(text) - self.max_chars
            return _json(f"{text[: self.max_chars]}… [trimmed by execlens: {cut} more characters]")
        if not parse:
            return _json(text)
        return _json(mapping.parsed(text) if isinstance(value, str) else from_json(text))


def _json(value: Any) -> str:
    # As the bulk path encodes JSON columns: NaN and Infinity, which are not JSON, as null.
    return to_json(value, inf_nan_mode="null").decode()


def _sorted(spans: list[ParsedSpan]) -> list[ParsedSpan]:
    return sorted(spans, key=lambda s: (s.span.start_time_unix_nano, s.span_id))


def _keep(spans: list[ParsedSpan], root: ParsedSpan | None, limits: Limits) -> list[ParsedSpan]:
    """Return the spans kept under the limit: the root, then the earliest others."""
    if len(spans) <= limits.max_spans:
        return spans
    others = [s for s in spans if s is not root][: limits.max_spans - (root is not None)]
    return _sorted(([root] if root else []) + others)


def assemble(
    trace_id: str, spans: list[ParsedSpan], limits: Limits, *, received_at: datetime
) -> AssembledRun:
    """Return the execution, node executions and graph of one trace's spans.

    ``received_at`` stands in for the run's start when no span carries a time.
    """
    spans = _sorted(spans)
    known = {s.span_id for s in spans}
    roots = [s for s in spans if s.parent_span_id is None]
    root = roots[0] if roots else None
    notes: list[str] = []
    if root is None:
        notes.append(f"the root span never arrived; assembled from the {len(spans)} spans that did")
    orphans = [s for s in spans if s.parent_span_id and s.parent_span_id not in known]
    if orphans:
        notes.append(
            f"{len(orphans)} spans name a parent span that never arrived; they are kept as "
            "steps of the run"
        )
    kept = _keep(spans, root, limits)
    if len(kept) < len(spans):
        notes.append(
            f"the trace has {len(spans)} spans; kept the first {len(kept)} "
            "(EXECLENS_OTLP_MAX_SPANS_PER_TRACE)"
        )
    trimmer = _Trimmer(limits.max_value_chars)
    nodes = [_node(trace_id, s, trimmer) for s in kept]
    if trimmer.trimmed:
        notes.append(
            f"{trimmed_values(trimmer.trimmed)} longer than {limits.max_value_chars} "
            "characters were cut (EXECLENS_OTLP_MAX_VALUE_CHARS)"
        )
    top = root or kept[0]
    graph_id = _graph_id(kept)
    if notes:
        nodes.append(_note(trace_id, kept, notes))
    execution = _execution(trace_id, graph_id, root, top, kept, nodes, received_at)
    return AssembledRun(execution, nodes, _graph(graph_id, kept, nodes), notes)


def trimmed_values(count: int) -> str:
    """Return "1 value" or "N values"."""
    return f"{count} value" if count == 1 else f"{count} values"


def _graph_id(spans: list[ParsedSpan]) -> str:
    """Return the agent's id or name, else an OpenInference agent span's name, else the service."""
    named = (mapping.agent_name(s.attrs) for s in spans)
    agent_spans = (s.span.name for s in spans if s.attrs.get(mapping.OI_KIND) == "AGENT")
    services = (s.resource.get("service.name") for s in spans)
    # Lazily: most traces name their agent on the first span.
    for candidate in chain(named, agent_spans, services):
        if isinstance(candidate, str) and candidate.strip():
            return mapping.storable(candidate.strip())[:_ID_CHARS]
    return "unknown_service"


def _node(trace_id: str, span: ParsedSpan, trimmer: _Trimmer) -> NodeRow:
    error = mapping.error_of(span.span, span.attrs)
    block = mapping.storable(mapping.block_name(span.span.name, span.attrs))[:500]
    start = mapping.utc_text(span.start_ns)
    return NodeRow(
        f"{trace_id}:{span.span_id}",
        trace_id,
        block[:_ID_CHARS],
        block,
        _FAILED if error.failed else _COMPLETED,
        trimmer.bound(mapping.first_value(span.attrs, mapping.INPUT_KEYS)),
        trimmer.bound(mapping.first_value(span.attrs, mapping.OUTPUT_KEYS)),
        trimmer.bound(error.message, parse=False),
        start,
        start,
        mapping.utc_text(span.end_ns),
    )


def _note(trace_id: str, kept: list[ParsedSpan], notes: list[str]) -> NodeRow:
    # After every step, so it reads last.
    at = mapping.utc_text(max((s.end_ns or s.start_ns for s in kept), default=0))
    note = _json({"note": "; ".join(notes)})
    return NodeRow(
        f"{trace_id}:note",
        trace_id,
        NOTE_BLOCK,
        NOTE_BLOCK,
        _COMPLETED,
        None,
        note,
        None,
        at,
        at,
        at,
    )


def _user(spans: list[ParsedSpan]) -> str:
    resources: set[int] = set()
    for span in spans:
        user = mapping.user_of(span.attrs)
        # Spans share their request's resource: read each resource once.
        if not user and id(span.resource) not in resources:
            resources.add(id(span.resource))
            user = mapping.user_of(span.resource)
        if user:
            return mapping.storable(user)[:_ID_CHARS]
    return UNKNOWN_USER


def _execution(
    trace_id: str,
    graph_id: str,
    root: ParsedSpan | None,
    top: ParsedSpan,
    kept: list[ParsedSpan],
    nodes: list[NodeRow],
    received_at: datetime,
) -> ExecutionIn:
    steps = [n for n in nodes if n.block_name != NOTE_BLOCK]
    failed = root is not None and mapping.error_of(root.span, root.attrs).failed
    if root is None:
        status = ExecutionStatus.INCOMPLETE
    else:
        status = ExecutionStatus.FAILED if failed else ExecutionStatus.COMPLETED
    start = top.start or mapping.timestamp(
        min((s.start_ns for s in kept if s.start_ns > 0), default=0)
    )
    end = mapping.timestamp(max((s.end_ns for s in kept), default=0))
    ends = root.end if root is not None else None
    error = mapping.error_of(root.span, root.attrs).message if root is not None else None
    error = mapping.storable(error)[:10_000] if error else None
    return ExecutionIn(
        id=trace_id,
        graph_id=graph_id,
        graph_version=GRAPH_VERSION,
        user_id=_user(([root] if root else []) + kept),
        status=status,
        created_at=start or end or received_at,
        started_at=start,
        ended_at=ends,
        stats=ExecutionStats(
            walltime=(end - start).total_seconds() if start and end and end >= start else None,
            node_count=len(steps),
            node_error_count=sum(n.status == _FAILED for n in steps),
            error=error,
        ),
    )


def _graph(graph_id: str, kept: list[ParsedSpan], nodes: list[NodeRow]) -> GraphBlocks:
    """Return the blocks this run used, linked parent block to child block."""
    block_of = {s.span_id: n.node_id for s, n in zip(kept, nodes[: len(kept)], strict=True)}
    blocks = {n.node_id: n.block_name for n in nodes if n.block_name != NOTE_BLOCK}
    links = frozenset(
        (block_of[s.parent_span_id], block_of[s.span_id])
        for s in kept
        if s.parent_span_id in block_of and block_of[s.parent_span_id] != block_of[s.span_id]
    )
    return GraphBlocks(graph_id, blocks, links)


def merge_graphs(stored: GraphIn | None, runs: Sequence[GraphBlocks]) -> GraphIn:
    """Return the graph of these runs' blocks and links, with those of the stored version."""
    graph_id = runs[0].id
    blocks: dict[str, str] = {}
    links: set[tuple[str, str]] = set()
    for run in runs:
        blocks |= run.blocks
        links |= run.links
    nodes = {n.id: n for n in stored.nodes} if stored is not None else {}
    nodes |= {
        node_id: GraphNode(id=node_id, block_id=node_id, block_name=name or "")
        for node_id, name in blocks.items()
    }
    stored_links = {(link.source_id, link.sink_id): link for link in stored.links} if stored else {}
    return GraphIn(
        id=graph_id,
        version=GRAPH_VERSION,
        name=stored.name if stored is not None else graph_id[:500],
        description=stored.description if stored is not None else "",
        nodes=list(nodes.values()),
        links=[
            stored_links[key] if key in stored_links and key not in links else _link(*key)
            for key in sorted(links | stored_links.keys())
        ],
    )


def _link(source: str, sink: str) -> GraphLink:
    return GraphLink(source_id=source, sink_id=sink, source_name="calls", sink_name="called_by")
