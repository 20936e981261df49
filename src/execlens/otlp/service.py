"""Write OTLP spans as node executions when they arrive; finish each run once its trace ends."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ScopeSpans
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.config import Settings
from execlens.db.dialect import utc_text
from execlens.db.engine import Database, Dialect
from execlens.executions.repository import (
    get_graph,
    upsert_graphs,
)
from execlens.executions.schemas import GraphIn, GraphOut
from execlens.executions.service import graph_row
from execlens.otlp import mapping, repository
from execlens.otlp.assembly import (
    GRAPH_VERSION,
    Arrival,
    FinishedRun,
    GraphBlocks,
    Limits,
    NodeSummary,
    TraceFacts,
    arrivals,
    finish,
    graph_of,
    merge_graphs,
    note_row,
)

log = logging.getLogger(__name__)
DEFAULT_LIMITS = Limits(
    Settings.model_fields["otlp_max_spans_per_trace"].default,
    Settings.model_fields["otlp_max_value_chars"].default,
)
# Per transaction: traces finished at most, and the node executions read at most (unless
# one trace has more), so that memory and the write lock stay bounded however many
# traces are ready, while each transaction's round trips are shared by many traces.
ASSEMBLY_TRACES = 1_000
ASSEMBLY_SPANS = 20_000
# Staged rows (spans of an earlier version) written the new way per transaction.
STAGED_ROWS = 200
FOREIGN_NOTE = (
    "an execution with id {} exists already and did not come by OTLP; the trace was not "
    "stored, so as not to overwrite it"
)


@dataclass(frozen=True)
class IngestReport:
    """What one export request did: spans accepted, spans refused, and why."""

    accepted: int
    rejected: int
    message: str


def _message(invalid: int, late: int, foreign: int) -> str:
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
    if foreign:
        parts.append(
            f"{foreign} spans belong to traces whose id an execution that did not come by "
            "OTLP holds already; they were not stored"
        )
    return "; ".join(parts)


def limits_of(settings: Settings) -> Limits:
    """Return the limits on one trace that ``settings`` set."""
    return Limits(settings.otlp_max_spans_per_trace, settings.otlp_max_value_chars)


def _new_row(arrival: Arrival, received_at: datetime) -> tuple[Any, ...]:
    """Return a new trace's values in the order of repository._NEW_TRACES."""
    start = mapping.utc_text(arrival.first_start_ns) or utc_text(received_at)
    return (
        arrival.trace_id,
        arrival.root_span_id,
        arrival.root_agent or arrival.agent,
        arrival.service,
        arrival.user,
        arrival.trimmed_values,
        arrival.dropped_spans,
        graph_of(arrival.root_agent or arrival.agent, arrival.service),
        start,
    )


def _seen_row(arrival: Arrival) -> tuple[Any, ...]:
    """Return a known trace's values in the order of repository._SEEN_TRACES."""
    return (
        arrival.trace_id,
        arrival.root_span_id,
        arrival.root_agent,
        arrival.agent,
        arrival.service,
        arrival.user,
        arrival.trimmed_values,
        arrival.dropped_spans,
    )


def _says_more(arrival: Arrival, known: "repository.Known") -> bool:
    """Return whether spans of a stored trace change its row (see update_seen_traces)."""
    return bool(
        known.root
        or arrival.root_span_id
        or arrival.trimmed_values
        or arrival.dropped_spans
        or (arrival.agent and not known.agent)
        or (arrival.service and not known.service)
        or (arrival.user and not known.user)
    )


class OtlpService:
    """OTLP ingestion and the finishing of runs whose trace ended."""

    async def ingest(
        self,
        session: AsyncSession,
        dialect: Dialect,
        request: ExportTraceServiceRequest,
        now: datetime,
        limits: Limits = DEFAULT_LIMITS,
    ) -> IngestReport:
        """Write the request's spans in the caller's transaction; a re-sent span changes nothing."""
        found, invalid = arrivals(request, limits, datetimes=dialect == "postgresql")
        if not found:
            return IngestReport(0, invalid, _message(invalid, 0, 0))
        known = await repository.lookup(session, dialect, sorted(found))
        # A trace seen first: its row, then its RUNNING execution (unless the id is taken).
        rows = [_new_row(a, now) for t, a in found.items() if t not in known]
        new = await repository.insert_new_traces(session, dialect, rows, now)
        placed = await repository.place_executions(
            session, dialect, [r for r in rows if r[0] in new]
        )
        foreign = sorted(new - placed)
        for trace_id in foreign:
            log.warning("OTLP trace %s not stored: its execution id is taken", trace_id)
            await repository.refuse_trace(session, trace_id, FOREIGN_NOTE.format(trace_id), now)
        # A trace seen before, or stored by a request that committed meanwhile: its row is
        # updated (and locked) when the spans say something new of it, or when its root
        # arrived already; the others only take the spans.
        stored = [r[0] for r in rows if r[0] not in new]
        updates = stored + [t for t, k in known.items() if k.receiving and _says_more(found[t], k)]
        updated = await repository.update_seen_traces(
            session, dialect, [_seen_row(found[t]) for t in updates], now
        )
        live = placed | updated
        live.update(t for t, k in known.items() if k.receiving and t not in updates)
        await repository.insert_nodes(
            session, dialect, [n for t in sorted(live) for n in found[t].nodes]
        )
        spans = {t: len(a.nodes) + a.dropped_spans for t, a in found.items()}
        refused = sum(spans[t] for t in foreign)
        late = sum(spans[t] for t in found.keys() - live - set(foreign))
        accepted = sum(spans.values()) - refused - late
        return IngestReport(accepted, invalid, _message(invalid, late, refused))

    async def assemble_ready(self, database: Database, settings: Settings, now: datetime) -> int:
        """Finish every run whose trace ended (or was abandoned); return how many."""
        await self._write_staged(database, settings)
        total = 0
        more = True
        while more:
            async with database.write() as session:
                count, more = await self._finish_batch(session, database.dialect, settings, now)
            total += count
        return total

    async def prune(self, database: Database, settings: Settings, now: datetime) -> int:
        """Forget assembled traces that link no execution, once late spans are unlikely.

        A trace linking a stored execution is kept: it makes re-sent spans change nothing,
        and score export finds the run's trace through it. The others (refused, or whose
        execution was deleted) would otherwise stay forever.
        """
        before = now - timedelta(seconds=settings.otlp_max_trace_seconds)
        async with database.write() as session:
            return await repository.prune_traces(session, before)

    async def _write_staged(self, database: Database, settings: Settings) -> None:
        """Write spans staged by an earlier version (before migration 0022) as ingest does now.

        Each staged row is one request's spans of one trace: it goes through ``ingest`` as
        that request, at the time it was received, so that nothing staged is lost.
        """
        limits = limits_of(settings)
        while True:
            async with database.write() as session:
                rows = await repository.staged_batch(session, STAGED_ROWS)
                for row in rows:
                    request = ExportTraceServiceRequest()
                    resource_spans = request.resource_spans.add()
                    resource_spans.resource.CopyFrom(Resource.FromString(row.resource))
                    resource_spans.scope_spans.append(ScopeSpans.FromString(row.spans))
                    await self.ingest(session, database.dialect, request, row.received_at, limits)
                await repository.unstage(session, [(row.trace_id, row.batch_id) for row in rows])
            if len(rows) < STAGED_ROWS:
                return

    async def _finish_batch(
        self, session: AsyncSession, dialect: Dialect, settings: Settings, now: datetime
    ) -> tuple[int, bool]:
        """Finish one transaction's worth of ready traces; return how many, and if more wait."""
        ready = await repository.ready(
            session,
            dialect,
            settled_before=now - timedelta(seconds=settings.otlp_grace_seconds),
            abandoned_before=now - timedelta(seconds=settings.otlp_max_trace_seconds),
            limit=ASSEMBLY_TRACES,
        )
        if not ready:
            return 0, False
        limits = limits_of(settings)
        batch = await repository.node_summaries(
            session,
            dialect,
            [t.trace_id for t in ready],
            budget=ASSEMBLY_SPANS,
            max_spans=limits.max_spans,
        )
        traces = [t for t in ready if t.trace_id in batch.counts]
        dropped = await _trim(session, dialect, traces, batch, limits)
        summaries = batch.summaries
        roots = await repository.roots(
            session, dialect, [t.root_node_id for t in traces if t.root_node_id]
        )
        runs = [
            finish(
                trace,
                summaries.get(trace.trace_id) or NodeSummary(),
                roots.get(trace.root_node_id) if trace.root_node_id else None,
                dropped.get(trace.trace_id, 0),
                limits,
            )
            for trace in traces
        ]
        await self._write_finished(session, dialect, runs, now)
        return len(traces), len(ready) == ASSEMBLY_TRACES or len(traces) < len(ready)

    async def _write_finished(
        self, session: AsyncSession, dialect: Dialect, runs: list[FinishedRun], now: datetime
    ) -> None:
        # Written as the spans' rows are: times as datetimes on PostgreSQL, text on SQLite.
        notes = [
            note_row(run.values["id"], run.note, _time(dialect, run.note_at))
            for run in runs
            if run.note is not None
        ]
        await repository.insert_nodes(session, dialect, notes)
        await repository.finish_executions(session, dialect, [run.values for run in runs], now)
        blocks: dict[str, list[GraphBlocks]] = {}
        for run in runs:
            blocks.setdefault(run.graph.id, []).append(run.graph)
        graphs = [
            merge_graphs(await _stored_graph(session, graph_id), parts)
            for graph_id, parts in blocks.items()
        ]
        await upsert_graphs(session, dialect, [graph_row(graph) for graph in graphs])
        outcomes = [
            {
                "trace_id": run.values["id"],
                "execution_id": run.values["id"],
                "span_count": run.span_count,
                "note": run.note,
            }
            for run in runs
        ]
        await repository.mark_assembled(session, dialect, outcomes, now)


def _time(dialect: Dialect, at: datetime | None) -> str | datetime | None:
    return utc_text(at) if at is not None and dialect == "sqlite" else at


async def _trim(
    session: AsyncSession,
    dialect: Dialect,
    traces: list[TraceFacts],
    batch: "repository.BatchNodes",
    limits: Limits,
) -> dict[str, int]:
    """Delete the nodes of the traces over the span limit past it; return how many each lost.

    What those traces keep is then summed up again, into ``batch``.
    """
    dropped: dict[str, int] = {}
    for trace in traces:
        if batch.counts[trace.trace_id] > limits.max_spans:
            dropped[trace.trace_id] = await repository.drop_nodes_over(
                session, trace.trace_id, trace.root_node_id, limits.max_spans
            )
    if dropped:
        trimmed = await repository.node_summaries(session, dialect, list(dropped))
        batch.summaries.update(trimmed.summaries)
    return dropped


async def _stored_graph(session: AsyncSession, graph_id: str) -> GraphIn | None:
    graph = await get_graph(session, graph_id, GRAPH_VERSION)
    return GraphOut.model_validate(graph) if graph is not None else None


otlp_service = OtlpService()
