"""Stage OTLP spans as they arrive, and assemble finished traces into executions."""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.config import Settings
from execlens.db.dialect import utc_text
from execlens.db.engine import Database, Dialect
from execlens.executions.repository import (
    encode_executions,
    encode_node_executions,
    get_graph,
)
from execlens.executions.schemas import GraphIn, GraphOut
from execlens.executions.service import (
    IngestRows,
    execution_service,
    execution_values,
    graph_row,
)
from execlens.otlp import repository
from execlens.otlp.assembly import (
    GRAPH_VERSION,
    AssembledRun,
    GraphBlocks,
    Limits,
    assemble,
    merge_graphs,
    parse_staged,
)
from execlens.otlp.schemas import scope_spans_bytes, valid_ids

log = logging.getLogger(__name__)
# Per transaction: traces considered, and the spans assembled at most (unless one trace
# has more), so that memory and the write lock stay bounded however many traces are
# ready, while each transaction's round trips are shared by many short traces.
ASSEMBLY_TRACES = 1_000
ASSEMBLY_SPANS = 5_000


@dataclass(frozen=True)
class IngestReport:
    """What one export request did: spans staged, spans refused, and why."""

    accepted: int
    rejected: int
    message: str


@dataclass
class _Staged:
    """A request's spans grouped by trace and resource, ready to stage."""

    # (trace id, resource index) -> span id -> the span, serialized
    groups: dict[tuple[bytes, int], dict[bytes, bytes]]
    # trace id -> its root span id, or None while the root has not arrived
    roots: dict[str, str | None]
    invalid: int


def _grouped(request: ExportTraceServiceRequest) -> _Staged:
    """Group a request's valid spans by trace and resource; a span sent twice counts once."""
    groups: dict[tuple[bytes, int], dict[bytes, bytes]] = {}
    roots: dict[bytes, bytes | None] = {}
    invalid = 0
    for index, resource_spans in enumerate(request.resource_spans):
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
                if not valid_ids(trace_id, span_id, parent):
                    invalid += 1
                    continue
                groups.setdefault((trace_id, index), {})[span_id] = span.SerializeToString()
                if not parent:
                    roots[trace_id] = span_id
                else:
                    roots.setdefault(trace_id, None)
    hex_roots = {t.hex(): (r.hex() if r else None) for t, r in roots.items()}
    return _Staged(groups, hex_roots, invalid)


def _staged_rows(
    request: ExportTraceServiceRequest, staged: _Staged, now: datetime
) -> list[tuple[str, str, str, int, bytes, bytes]]:
    """Return one staged row per trace and resource, in trace order (values: STAGED_COLUMNS)."""
    # One batch per resource, numbered in the request's order: a trace whose spans came
    # under two resources (a collector's batch of several services) stages two rows.
    request_id = uuid.uuid4().hex[:24]
    at = utc_text(now)
    resources: dict[int, bytes] = {}
    rows = []
    for (trace_id, index), spans in staged.groups.items():
        if index not in resources:
            resources[index] = request.resource_spans[index].resource.SerializeToString()
        data = scope_spans_bytes(spans.values())
        batch_id = f"{request_id}{index:08x}"
        rows.append((trace_id.hex(), batch_id, at, len(spans), resources[index], data))
    rows.sort()
    return rows


def _message(invalid: int, late: int) -> str:
    parts = []
    if invalid:
        parts.append(
            f"{invalid} spans were refused: a trace_id must be 16 bytes and a span_id "
            "8 bytes, not all zero"
        )
    if late:
        parts.append(
            f"{late} spans belong to traces assembled already (their root ended more than "
            "EXECLENS_OTLP_GRACE_SECONDS earlier) and were ignored"
        )
    return "; ".join(parts)


class OtlpService:
    """OTLP ingestion and trace assembly."""

    async def ingest(
        self,
        session: AsyncSession,
        dialect: Dialect,
        request: ExportTraceServiceRequest,
        now: datetime,
    ) -> IngestReport:
        """Stage the request's spans in the caller's transaction; a re-sent span changes nothing."""
        staged = _grouped(request)
        accepted = sum(len(spans) for spans in staged.groups.values())
        late = 0
        if staged.roots:
            # Staged first, the traces touched last: concurrent exports of the same traces
            # wait for each other's row locks only from the touch to the commit. The touch
            # waits for an assembly of the same trace in progress (PostgreSQL), so it sees
            # its outcome; the spans just staged of a trace assembled meanwhile go again.
            rows = _staged_rows(request, staged, now)
            await repository.stage_spans(session, dialect, rows)
            pending = await repository.touch_traces(session, dialect, staged.roots, now)
            assembled = staged.roots.keys() - pending
            if assembled:
                await repository.unstage(session, assembled)
                late = sum(row[3] for row in rows if row[0] in assembled)
        return IngestReport(accepted - late, staged.invalid, _message(staged.invalid, late))

    async def assemble_ready(self, database: Database, settings: Settings, now: datetime) -> int:
        """Assemble every trace that is ready into an execution; return how many."""
        total = 0
        more = True
        while more:
            async with database.write() as session:
                count, more = await self._assemble_batch(session, database.dialect, settings, now)
            total += count
        return total

    async def prune(self, database: Database, settings: Settings, now: datetime) -> int:
        """Forget assembled traces that link no execution, once late spans are unlikely.

        A trace linking a stored execution is kept: it makes re-sent spans change nothing,
        and score export finds the run's trace through it. The others (refused, empty, or
        whose execution was deleted) would otherwise stay forever.
        """
        before = now - timedelta(seconds=settings.otlp_max_trace_seconds)
        async with database.write() as session:
            return await repository.prune_traces(session, before)

    async def _assemble_batch(
        self, session: AsyncSession, dialect: Dialect, settings: Settings, now: datetime
    ) -> tuple[int, bool]:
        """Assemble one transaction's worth of ready traces; return how many, and if more wait."""
        stmt = repository.ready_traces(
            dialect,
            settled_before=now - timedelta(seconds=settings.otlp_grace_seconds),
            abandoned_before=now - timedelta(seconds=settings.otlp_max_trace_seconds),
            limit=ASSEMBLY_TRACES,
        )
        ready = [(row[0], row[1]) for row in await session.execute(stmt)]
        if not ready:
            return 0, False
        traces = _within_budget(
            ready, await repository.span_counts(session, dialect, [t for t, _ in ready])
        )
        await self._assemble_traces(session, dialect, settings, now, traces)
        return len(traces), len(ready) == ASSEMBLY_TRACES or len(traces) < len(ready)

    async def _assemble_traces(
        self,
        session: AsyncSession,
        dialect: Dialect,
        settings: Settings,
        now: datetime,
        traces: list[tuple[str, datetime]],
    ) -> None:
        by_trace: dict[str, list[tuple[bytes, bytes]]] = {}
        for row in await repository.staged_spans(
            session, dialect, [trace_id for trace_id, _ in traces]
        ):
            by_trace.setdefault(row[0], []).append((row[1], row[2]))
        limits = Limits(settings.otlp_max_spans_per_trace, settings.otlp_max_value_chars)
        resources: dict[bytes, dict[str, Any]] = {}
        runs: list[AssembledRun] = []
        outcomes: list[dict[str, Any]] = []
        for trace_id, first_received_at in traces:
            rows = by_trace.get(trace_id, [])
            run, outcome = _assembled(trace_id, rows, resources, limits, first_received_at)
            outcomes.append(outcome)
            if run is not None:
                runs.append(run)
        runs = await _without_foreign(session, dialect, runs, outcomes)
        blocks: dict[str, list[GraphBlocks]] = {}
        for run in runs:
            blocks.setdefault(run.graph.id, []).append(run.graph)
        graphs = [
            merge_graphs(await _stored_graph(session, graph_id), parts)
            for graph_id, parts in blocks.items()
        ]
        await execution_service.write(session, dialect, _rows_of(dialect, graphs, runs))
        await repository.mark_assembled(session, dialect, outcomes, now)


def _assembled(
    trace_id: str,
    rows: list[tuple[bytes, bytes]],
    resources: dict[bytes, dict[str, Any]],
    limits: Limits,
    received_at: datetime,
) -> tuple[AssembledRun | None, dict[str, Any]]:
    """Return a trace's run (None when it has no span or cannot be read) and its outcome."""
    outcome = {"trace_id": trace_id, "execution_id": None, "span_count": 0}
    try:
        spans = parse_staged(rows, resources)
        outcome["span_count"] = len(spans)
        if not spans:
            return None, outcome | {"note": "no valid spans arrived"}
        run = assemble(trace_id, spans, limits, received_at=received_at)
    except (ValueError, DecodeError) as exc:
        # One unreadable trace must not hold up the others on every pass.
        reason = str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__
        log.warning("OTLP trace %s could not be assembled: %s", trace_id, reason)
        return None, outcome | {"note": f"could not be assembled: {reason}"}
    return run, outcome | {"execution_id": run.execution.id, "note": "; ".join(run.notes) or None}


def _within_budget(
    ready: list[tuple[str, datetime]], counts: dict[str, int]
) -> list[tuple[str, datetime]]:
    """Return the first ready traces whose spans fit ASSEMBLY_SPANS; at least one."""
    chosen: list[tuple[str, datetime]] = []
    spans = 0
    for trace in ready:
        spans += counts.get(trace[0], 0)
        if chosen and spans > ASSEMBLY_SPANS:
            break
        chosen.append(trace)
    return chosen


def _rows_of(dialect: Dialect, graphs: list[GraphIn], runs: list[AssembledRun]) -> IngestRows:
    nodes = [node for run in runs for node in run.nodes]
    return IngestRows(
        graphs=[graph_row(graph) for graph in graphs],
        executions=encode_executions(dialect, [execution_values(run.execution) for run in runs]),
        node_executions=encode_node_executions(dialect, nodes, as_text=True),
        execution_count=len(runs),
        node_execution_count=len(nodes),
    )


async def _without_foreign(
    session: AsyncSession,
    dialect: Dialect,
    runs: list[AssembledRun],
    outcomes: list[dict[str, Any]],
) -> list[AssembledRun]:
    """Return the runs whose id no execution from elsewhere (REST, a sync) holds already."""
    taken = await repository.foreign_executions(
        session, dialect, [run.execution.id for run in runs]
    )
    if not taken:
        return runs
    for outcome in outcomes:
        if outcome["execution_id"] in taken:
            outcome["execution_id"] = None
            outcome["note"] = (
                f"an execution with id {outcome['trace_id']} exists already and did not come "
                "by OTLP; the trace was not stored, so as not to overwrite it"
            )
            log.warning("OTLP trace %s not stored: its execution id is taken", outcome["trace_id"])
    return [run for run in runs if run.execution.id not in taken]


async def _stored_graph(session: AsyncSession, graph_id: str) -> GraphIn | None:
    graph = await get_graph(session, graph_id, GRAPH_VERSION)
    return GraphOut.model_validate(graph) if graph is not None else None


otlp_service = OtlpService()
