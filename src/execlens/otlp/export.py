"""Send each verdict out as OpenTelemetry's GenAI evaluation event, over OTLP/HTTP logs.

Verdicts are queued as their transaction commits (a JudgeService listener) and never
wait for the network: a background task links them to their trace, and the OTel SDK's
batch processor sends them from its own thread, retrying what the collector refuses
for a while (429, 502, 503, 504, connection errors).
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress

from opentelemetry._logs import Logger, SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    set_span_in_context,
)
from sqlalchemy.exc import SQLAlchemyError

from execlens import __version__
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.judge.schemas import Verdict
from execlens.judge.service import judge_service
from execlens.otlp import repository

log = logging.getLogger(__name__)

EVENT_NAME = "gen_ai.evaluation.result"
EVALUATION_NAME = "execlens.correctness"
# Verdicts waiting to be linked and handed to the SDK; beyond it new ones are dropped
# with a warning rather than held in memory without bound.
MAX_QUEUED = 10_000
_LOGS_PATH = "/v1/logs"


def logs_endpoint(base: str) -> str:
    """Return the logs URL of an OTLP/HTTP endpoint, as OTEL_EXPORTER_OTLP_ENDPOINT reads it."""
    base = base.rstrip("/")
    return base if base.endswith(_LOGS_PATH) else base + _LOGS_PATH


def parse_headers(text: str) -> dict[str, str]:
    """Return headers written as OTEL_EXPORTER_OTLP_HEADERS writes them: k=v,k2=v2.

    Settings checked the form already.
    """
    pairs = (pair.partition("=") for pair in text.split(",") if pair.strip())
    return {name.strip(): value.strip() for name, _, value in pairs}


def score_label(score: float) -> str:
    """Return the dashboard's band of a score: pass (≥ 0.8), partial (≥ 0.5), fail."""
    if score >= 0.8:
        return "pass"
    return "partial" if score >= 0.5 else "fail"


def evaluation_attributes(verdict: Verdict) -> dict[str, str | float]:
    """Return the attributes of a verdict's gen_ai.evaluation.result event."""
    attributes: dict[str, str | float] = {
        "gen_ai.evaluation.name": EVALUATION_NAME,
        "gen_ai.evaluation.score.value": verdict.correctness_score,
        "gen_ai.evaluation.score.label": score_label(verdict.correctness_score),
        "gen_ai.evaluation.explanation": verdict.activity_status,
        "execlens.execution.id": verdict.execution_id,
        "execlens.judge": verdict.judge,
    }
    if verdict.model:
        attributes["gen_ai.request.model"] = verdict.model
    if verdict.provider:
        attributes["gen_ai.provider.name"] = verdict.provider
    return attributes


class ScoreExporter:
    """Queue verdicts and emit them as evaluation events through the OTel SDK."""

    def __init__(self, database: Database, settings: Settings) -> None:
        assert settings.otlp_export_endpoint is not None
        headers = settings.otlp_export_headers
        exporter = OTLPLogExporter(
            endpoint=logs_endpoint(settings.otlp_export_endpoint),
            headers=parse_headers(headers.get_secret_value()) if headers else None,
            timeout=settings.otlp_export_timeout_seconds,
        )
        self.provider = LoggerProvider(
            resource=Resource.create({"service.name": "execlens", "service.version": __version__})
        )
        self.provider.add_log_record_processor(
            BatchLogRecordProcessor(exporter, schedule_delay_millis=500)
        )
        self.logger: Logger = self.provider.get_logger("execlens.judge", __version__)
        self.database = database
        self.queue: asyncio.Queue[Verdict] = asyncio.Queue(MAX_QUEUED)

    def enqueue(self, verdicts: Sequence[Verdict]) -> None:
        """Queue verdicts for export; never block, drop with a warning when full."""
        for verdict in verdicts:
            try:
                self.queue.put_nowait(verdict)
            except asyncio.QueueFull:
                log.warning(
                    "score export queue is full; verdict of %s not exported", verdict.execution_id
                )

    async def run(self) -> None:
        """Link queued verdicts to their traces and hand them to the SDK, until cancelled."""
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty() and len(batch) < 500:
                batch.append(self.queue.get_nowait())
            try:
                async with self.database.read() as session:
                    links = await repository.trace_links(session, [v.execution_id for v in batch])
            except (SQLAlchemyError, OSError) as exc:
                log.warning(
                    "score export sends %d verdicts without trace links: %s",
                    len(batch),
                    type(exc).__name__,
                )
                links = {}
            for verdict in batch:
                self.emit(verdict, links.get(verdict.execution_id))
                self.queue.task_done()

    def emit(self, verdict: Verdict, link: tuple[str, str | None] | None) -> None:
        """Hand one evaluation event to the SDK, in the run's trace when it came in by OTLP."""
        context = None
        if link is not None:
            trace_id, span_id = link
            span = SpanContext(
                int(trace_id, 16),
                int(span_id, 16) if span_id else 0,
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
            context = set_span_in_context(NonRecordingSpan(span))
        self.logger.emit(
            event_name=EVENT_NAME,
            timestamp=int(verdict.created_at.timestamp() * 1e9),
            severity_number=SeverityNumber.INFO,
            attributes=evaluation_attributes(verdict),
            context=context,
        )


@asynccontextmanager
async def score_export(database: Database, settings: Settings) -> AsyncIterator[None]:
    """Export every verdict stored while the block runs, if EXECLENS_OTLP_EXPORT_ENDPOINT is set."""
    if settings.otlp_export_endpoint is None:
        yield
        return
    exporter = ScoreExporter(database, settings)
    remove = judge_service.add_listener(exporter.enqueue)
    task = asyncio.create_task(exporter.run())
    try:
        yield
    finally:
        remove()
        # Hand what is queued to the SDK, then let it flush (its own bounded retries).
        with suppress(TimeoutError):
            await asyncio.wait_for(exporter.queue.join(), timeout=10)
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await asyncio.to_thread(exporter.provider.shutdown)
