"""Stage OTLP spans as they arrive, and assemble finished traces into executions."""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.config import Settings
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
    Limits,
    assemble,
    merge_graphs,
    parse_staged,
)
from execlens.otlp.schemas import b64, span_ids

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


def _rows(
    request: ExportTraceServiceRequest, now: datetime
) -> Iterator[tuple[str, str, str | None, datetime, str, str] | None]:
    """Yield a staged-span row per span of the request; None for a span with invalid ids."""
    for resource_spans in request.resource_spans:
        resource = b64(resource_spans.resource.SerializeToString())
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                ids = span_ids(span.trace_id, span.span_id, span.parent_span_id)
                if ids is None:
                    yield None
                    continue
                yield (
                    ids.trace_id,
                    ids.span_id,
                    ids.parent_span_id,
                    now,
                    resource,
                    b64(span.SerializeToString()),
                )


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
        spans: dict[tuple[str, str], tuple[Any, ...]] = {}
        invalid = 0
        for row in _rows(request, now):
            if row is None:
                invalid += 1
            else:
                spans[(row[0], row[1])] = row
        roots: dict[str, str | None] = {}
        for trace_id, span_id, parent, *_ in spans.values():
            roots.setdefault(trace_id, None)
            if parent is None:
                roots[trace_id] = span_id
        late = 0
        if roots:
            # Staged first, the traces touched last: concurrent exports of the same traces
            # wait for each other's row locks only from the touch to the commit. The touch
            # waits for an assembly of the same trace in progress (PostgreSQL), so it sees
            # its outcome; the spans just staged of a trace assembled meanwhile go again.
            rows = sorted(spans.values())
            await repository.stage_spans(session, dialect, rows)
            pending = await repository.touch_traces(session, dialect, roots, now)
            assembled = roots.keys() - pending
            if assembled:
                await repository.unstage(session, assembled)
                late = sum(row[0] in assembled for row in rows)
        return IngestReport(len(spans) - late, invalid, _message(invalid, late))

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
        traces = _within_budget(ready, await repository.span_counts(session, [t for t, _ in ready]))
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
        by_trace: dict[str, list[tuple[str, str | None, str, str]]] = {}
        for row in await repository.staged_spans(session, [trace_id for trace_id, _ in traces]):
            by_trace.setdefault(row[0], []).append((row[1], row[2], row[3], row[4]))
        limits = Limits(settings.otlp_max_spans_per_trace, settings.otlp_max_value_chars)
        resources: dict[str, dict[str, Any]] = {}
        runs: list[AssembledRun] = []
        outcomes: list[dict[str, Any]] = []
        for trace_id, first_received_at in traces:
            rows = by_trace.get(trace_id, [])
            outcome = {"trace_id": trace_id, "execution_id": None, "span_count": len(rows)}
            outcomes.append(outcome | {"note": "no valid spans arrived"})
            if not rows:
                continue
            try:
                run = assemble(
                    trace_id, parse_staged(rows, resources), limits, received_at=first_received_at
                )
            except ValueError as exc:
                # One unreadable trace must not hold up the others on every pass.
                reason = str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__
                outcomes[-1] = outcome | {"note": f"could not be assembled: {reason}"}
                log.warning("OTLP trace %s could not be assembled: %s", trace_id, reason)
                continue
            runs.append(run)
            outcomes[-1] = outcome | {
                "execution_id": run.execution.id,
                "note": "; ".join(run.notes) or None,
            }
        runs = await _without_foreign(session, runs, outcomes)
        graphs: dict[str, GraphIn] = {}
        for run in runs:
            graph = graphs.get(run.graph.id) or await _stored_graph(session, run.graph.id)
            graphs[run.graph.id] = merge_graphs(graph, run.graph)
        await execution_service.write(session, dialect, _rows_of(dialect, graphs, runs))
        await repository.mark_assembled(session, outcomes, now)


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


def _rows_of(dialect: Dialect, graphs: dict[str, GraphIn], runs: list[AssembledRun]) -> IngestRows:
    nodes = [node for run in runs for node in run.nodes]
    return IngestRows(
        graphs=[graph_row(graph) for graph in graphs.values()],
        executions=encode_executions(dialect, [execution_values(run.execution) for run in runs]),
        node_executions=encode_node_executions(dialect, nodes),
        execution_count=len(runs),
        node_execution_count=len(nodes),
    )


async def _without_foreign(
    session: AsyncSession, runs: list[AssembledRun], outcomes: list[dict[str, Any]]
) -> list[AssembledRun]:
    """Return the runs whose id no execution from elsewhere (REST, a sync) holds already."""
    taken = await repository.foreign_executions(session, [run.execution.id for run in runs])
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
