"""What spans become: node executions as they arrive, and the execution once its trace ends."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from pydantic_core import from_json, to_json

from execlens.executions.models import ExecutionStatus
from execlens.executions.schemas import GraphIn, GraphLink, GraphNode
from execlens.otlp import mapping
from execlens.otlp.schemas import valid_ids

GRAPH_VERSION = 1
UNKNOWN_USER = "unknown"
UNKNOWN_SERVICE = "unknown_service"
NOTE_BLOCK = "execlens note"
_ID_CHARS = 200
_COMPLETED = ExecutionStatus.COMPLETED.value
_FAILED = ExecutionStatus.FAILED.value


@dataclass(frozen=True)
class Limits:
    """How much of one trace is kept: spans, and characters per input or output value."""

    max_spans: int
    max_value_chars: int


class NodeRow(NamedTuple):
    """A node execution as stored: executions.repository.NODE_EXECUTION_COLUMNS, then parent_id.

    Rows rather than NodeExecutionIn: every value is made here to fit (ids cut, times
    formatted), and building and validating a model cost more than mapping the span.
    Inputs and outputs are JSON text; times UTC text as the bulk path stores them, or
    datetimes (see ``arrivals``).
    """

    id: str
    execution_id: str
    node_id: str
    block_name: str
    status: str
    input_data: str | None
    output_data: str | None
    error: str | None
    queued_at: str | datetime | None
    started_at: str | datetime | None
    ended_at: str | datetime | None
    parent_id: str | None


@dataclass
class Arrival:
    """The spans of one trace in one request, mapped, and what they say about the run."""

    trace_id: str
    nodes: list[NodeRow] = field(default_factory=list)
    root_span_id: str | None = None
    # The agent the root span names in an attribute; else the first one a span of this
    # request names, else the name of its first OpenInference agent span.
    root_agent: str | None = None
    agent: str | None = None
    service: str | None = None
    user: str | None = None
    first_start_ns: int = 0
    trimmed_values: int = 0
    dropped_spans: int = 0


@dataclass
class _Trimmer:
    max_chars: int
    trimmed: int = 0

    def bound(self, value: Any) -> str | None:
        """Return ``value`` as JSON text (JSON text sent as the value it encodes), cut to the limit.

        A value longer than the limit becomes a JSON string of its text, cut.
        """
        if value is None:
            return None
        text = value if isinstance(value, str) else to_json(value, fallback=str).decode()
        text = mapping.storable(text)
        if len(text) > self.max_chars:
            return _json(self._cut(text))
        return _json(mapping.parsed(text) if isinstance(value, str) else from_json(text))

    def text(self, text: str) -> str:
        """Return ``text`` storable and cut to the limit, with a note of what was cut."""
        text = mapping.storable(text)
        return self._cut(text) if len(text) > self.max_chars else text

    def _cut(self, text: str) -> str:
        self.trimmed += 1
        cut = len(text) - self.max_chars
        return f"{text[: self.max_chars]}… [trimmed by execlens: {cut} more characters]"


def _json(value: Any) -> str:
    # As the bulk path encodes JSON columns: NaN and Infinity, which are not JSON, as null.
    return to_json(value, inf_nan_mode="null").decode()


def _short(text: str | None) -> str | None:
    return mapping.storable(text)[:_ID_CHARS] if text else None


def _agent_span(span: Span, attrs: dict[str, Any]) -> str | None:
    """Return an OpenInference agent span's name: the agent, when no span names one."""
    if attrs.get(mapping.OI_KIND) == "AGENT" and span.name.strip():
        return _short(span.name.strip())
    return None


def arrivals(
    request: ExportTraceServiceRequest, limits: Limits, *, datetimes: bool = False
) -> tuple[dict[str, Arrival], int]:
    """Map a request's valid spans to node rows, by trace; return them and the invalid count.

    A span sent twice in the request counts once (its last copy). A trace with more spans
    in one request than the limit keeps its root and its earliest others. The node rows'
    times are UTC text, or with ``datetimes`` UTC datetimes (PostgreSQL's COPY takes them).
    """
    time = mapping.timestamp if datetimes else mapping.utc_text
    spans: dict[bytes, dict[bytes, _Span]] = {}
    invalid = 0
    for resource_spans in request.resource_spans:
        resource = _resource(mapping.attributes(resource_spans.resource.attributes))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
                if not valid_ids(trace_id, span_id, parent):
                    invalid += 1
                    continue
                attrs = mapping.attributes(span.attributes)
                found_span = _Span(
                    span.start_time_unix_nano, span_id, parent, span, attrs, resource
                )
                spans.setdefault(trace_id, {})[span_id] = found_span
    found = {}
    for trace_id, by_id in spans.items():
        arrival = _arrival(trace_id.hex(), list(by_id.values()), limits, time)
        found[arrival.trace_id] = arrival
    return found, invalid


class _Resource(NamedTuple):
    """What a resource says of the run: its service and its user."""

    service: str | None
    user: str | None


def _resource(attrs: dict[str, Any]) -> _Resource:
    service = attrs.get("service.name")
    return _Resource(
        _short(service.strip()) if isinstance(service, str) else None,
        _short(mapping.user_of(attrs)),
    )


class _Span(NamedTuple):
    """A span of a request, with what mapping reads of it more than once."""

    start_ns: int
    span_id: bytes
    parent: bytes
    span: Span
    attrs: dict[str, Any]
    resource: _Resource


def _by_start(span: _Span) -> tuple[int, bytes]:
    return span.start_ns, span.span_id


def _arrival(
    trace_id: str, spans: list[_Span], limits: Limits, time: Callable[[int], Any]
) -> Arrival:
    if len(spans) > 1:
        spans.sort(key=_by_start)
    arrival = Arrival(trace_id)
    if len(spans) > limits.max_spans:
        roots = [s for s in spans if not s.parent][:1]
        others = [s for s in spans if s.parent][: limits.max_spans - len(roots)]
        arrival.dropped_spans = len(spans) - len(roots) - len(others)
        spans = sorted(roots + others, key=_by_start)
    trimmer = _Trimmer(limits.max_value_chars)
    agent_span = None
    nodes = arrival.nodes
    for found in spans:
        attrs = found.attrs
        nodes.append(_node(trace_id, found, trimmer, time))
        if arrival.agent is None:
            arrival.agent = _short(mapping.agent_name(attrs))
        if agent_span is None:
            agent_span = _agent_span(found.span, attrs)
        if arrival.user is None:
            arrival.user = _short(mapping.user_of(attrs)) or found.resource.user
        if arrival.service is None:
            arrival.service = found.resource.service
        if not found.parent and arrival.root_span_id is None:
            arrival.root_span_id = found.span_id.hex()
            arrival.root_agent = _short(mapping.agent_name(attrs))
    # An agent named in an attribute, by any span, before an agent span's name.
    arrival.agent = arrival.agent or agent_span
    arrival.first_start_ns = next((s.start_ns for s in spans if s.start_ns > 0), 0)
    arrival.trimmed_values = trimmer.trimmed
    return arrival


def _node(trace_id: str, found: _Span, trimmer: _Trimmer, time: Callable[[int], Any]) -> NodeRow:
    span, attrs = found.span, found.attrs
    error = mapping.error_of(span, attrs)
    block = mapping.storable(mapping.block_name(span.name, attrs))[:500]
    start = time(found.start_ns)
    return NodeRow(
        f"{trace_id}:{found.span_id.hex()}",
        trace_id,
        block[:_ID_CHARS],
        block,
        _FAILED if error.failed else _COMPLETED,
        trimmer.bound(mapping.first_value(attrs, mapping.INPUT_KEYS)),
        trimmer.bound(mapping.first_value(attrs, mapping.OUTPUT_KEYS)),
        trimmer.text(error.message) if error.message else None,
        start,
        start,
        time(span.end_time_unix_nano),
        f"{trace_id}:{found.parent.hex()}" if found.parent else None,
    )


def graph_of(agent: str | None, service: str | None) -> str:
    """Return a run's graph id: its agent, else its service, else "unknown_service"."""
    return agent or service or UNKNOWN_SERVICE


class TraceFacts(NamedTuple):
    """What finishing reads of a pending trace (its row in otlp_traces)."""

    trace_id: str
    root_span_id: str | None
    agent_name: str | None
    service_name: str | None
    user_id: str | None
    trimmed_values: int
    dropped_spans: int
    first_received_at: datetime

    @property
    def root_node_id(self) -> str | None:
        """Return the id of the root span's node execution, once the root arrived."""
        return f"{self.trace_id}:{self.root_span_id}" if self.root_span_id else None


class RootFacts(NamedTuple):
    """What finishing reads of a trace's root span, stored as its node execution."""

    status: str
    error: str | None
    started_at: datetime | None
    ended_at: datetime | None


@dataclass
class NodeSummary:
    """A trace's stored node executions, summed up by the database."""

    count: int = 0
    failed: int = 0
    # Spans whose parent never arrived.
    orphans: int = 0
    first_start: datetime | None = None
    last_end: datetime | None = None
    blocks: dict[str, str] = field(default_factory=dict)
    # (calling block, called block)
    links: set[tuple[str, str]] = field(default_factory=set)

    def add(
        self,
        node_id: str,
        block_name: str | None,
        parent_node_id: str | None,
        counts: tuple[int, int, int],
        first_start: datetime | None,
        last_end: datetime | None,
    ) -> None:
        """Add one group of node executions: one block, called by one block."""
        self.count += counts[0]
        self.failed += counts[1]
        self.orphans += counts[2]
        self.blocks[node_id] = block_name or ""
        if parent_node_id is not None and parent_node_id != node_id:
            self.links.add((parent_node_id, node_id))
        if first_start is not None and (self.first_start is None or first_start < self.first_start):
            self.first_start = first_start
        if last_end is not None and (self.last_end is None or last_end > self.last_end):
            self.last_end = last_end


@dataclass
class FinishedRun:
    """A finished trace: its execution's final values, the note row if any, its graph."""

    values: dict[str, Any]
    note: str | None
    note_at: datetime | None
    graph: "GraphBlocks"
    span_count: int


def finish(
    trace: TraceFacts,
    nodes: NodeSummary,
    root: RootFacts | None,
    trimmed_spans: int,
    limits: Limits,
) -> FinishedRun:
    """Return what a trace's run becomes, from its trace row and its stored node executions.

    ``trimmed_spans`` counts the spans just deleted over the limit (not in ``nodes``).
    """
    total = nodes.count + trimmed_spans + trace.dropped_spans
    notes: list[str] = []
    if root is None:
        notes.append(
            f"the root span never arrived; assembled from the {nodes.count} spans that did"
        )
    if nodes.orphans:
        notes.append(
            f"{nodes.orphans} spans name a parent span that never arrived; they are kept as "
            "steps of the run"
        )
    if total > nodes.count:
        notes.append(
            f"the trace has {total} spans; kept the first {nodes.count} "
            "(EXECLENS_OTLP_MAX_SPANS_PER_TRACE)"
        )
    if trace.trimmed_values:
        notes.append(
            f"{trimmed_values(trace.trimmed_values)} longer than {limits.max_value_chars} "
            "characters were cut (EXECLENS_OTLP_MAX_VALUE_CHARS)"
        )
    start = (root.started_at if root is not None else None) or nodes.first_start
    end = nodes.last_end
    status = ExecutionStatus.INCOMPLETE.value if root is None else root.status
    error = root.error if root is not None else None
    graph_id = graph_of(trace.agent_name, trace.service_name)
    values = {
        "id": trace.trace_id,
        "graph_id": graph_id,
        "user_id": trace.user_id or UNKNOWN_USER,
        "status": status,
        "created_at": start or end or trace.first_received_at,
        "started_at": start,
        "ended_at": root.ended_at if root is not None else None,
        "walltime": (end - start).total_seconds() if start and end and end >= start else None,
        "node_count": nodes.count,
        "node_error_count": nodes.failed,
        "error": error[:10_000] if error else None,
    }
    graph = GraphBlocks(graph_id, nodes.blocks, frozenset(nodes.links))
    return FinishedRun(values, "; ".join(notes) or None, end or start, graph, total)


def note_row(trace_id: str, note: str, at: str | datetime | None) -> NodeRow:
    """Return the node row that tells what execlens changed in the trace; it reads last.

    ``at``: as the node rows of spans hold their times (see ``arrivals``).
    """
    text = _json({"note": note})
    return NodeRow(
        f"{trace_id}:note",
        trace_id,
        NOTE_BLOCK,
        NOTE_BLOCK,
        _COMPLETED,
        None,
        text,
        None,
        at,
        at,
        at,
        None,
    )


def trimmed_values(count: int) -> str:
    """Return "1 value" or "N values"."""
    return f"{count} value" if count == 1 else f"{count} values"


@dataclass(frozen=True)
class GraphBlocks:
    """The blocks one run used (node id to block name), and which block called which."""

    id: str
    blocks: dict[str, str]
    links: frozenset[tuple[str, str]]


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
