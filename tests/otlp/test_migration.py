"""Migrations of OTLP storage: spans staged before an upgrade become the run after it."""

import base64
from datetime import UTC, datetime

import pytest
from alembic import command
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ScopeSpans
from sqlalchemy import Connection, text

from execlens.config import Settings
from execlens.db.engine import Database
from execlens.db.migrate import alembic_config, upgrade
from execlens.otlp import repository
from execlens.otlp.service import otlp_service
from tests.conftest import empty_postgres
from tests.otlp.conftest import assemble_after, encode, record_spans, trace_id_of, weather_agent

STAGE = (
    "INSERT INTO otlp_spans (trace_id, span_id, parent_span_id, received_at, resource, span) "
    "VALUES (:trace_id, :span_id, :parent, :received_at, :resource, :span)"
)
TOUCH = (
    "INSERT INTO otlp_traces (trace_id, state, first_received_at, last_received_at, "
    "root_span_id) VALUES (:trace_id, 'pending', :received_at, :received_at, :root)"
)


def b64(data: bytes) -> str:
    """Return bytes as base64 text, the form spans were staged in before migration 0020."""
    return base64.b64encode(data).decode()


async def test_spans_staged_before_the_upgrade_become_the_execution_after_it(
    dialect: str, settings: Settings
):
    if dialect == "postgresql":
        await empty_postgres(settings.resolved_database_url)
    database = Database.from_settings(settings)
    try:
        await upgrade(database, "0016")
        spans = record_spans(weather_agent)
        request = encode(spans)
        await _stage_one_row_per_span(database, request, dialect)

        await upgrade(database)
        await _assert_assembled_as_the_weather_run(database, settings, spans)
    finally:
        await database.dispose()


async def _assert_assembled_as_the_weather_run(
    database: Database, settings: Settings, spans: list
) -> None:
    """Assert the three staged spans assemble into the weather agent's run, leaving none."""
    async with database.read() as session:
        assert await repository.count_staged(session) == 3
    assert await assemble_after(database, settings, 10) == 1
    async with database.read() as session:
        rows = await session.execute(text("SELECT block_name FROM node_executions"))
        blocks = sorted(row[0] for row in rows)
        assert await repository.count_staged(session) == 0
        trace = await repository.get_trace(session, trace_id_of(spans))
    assert blocks == sorted(
        ["invoke_agent weather", "chat gpt-4.1-mini", "execute_tool get_weather"]
    )
    assert trace is not None and trace.execution_id == trace_id_of(spans)
    assert trace.span_count == 3


def _received_at(dialect: str) -> datetime | str:
    """Return now as each database's raw insert takes it."""
    now = datetime.now(UTC)
    return now if dialect == "postgresql" else now.strftime("%Y-%m-%d %H:%M:%S.%f")


async def _stage_one_row_per_span(database: Database, request: bytes, dialect: str) -> None:
    """Stage spans as execlens did before migration 0017: a row per span."""
    export = ExportTraceServiceRequest.FromString(request)
    resource_spans = export.resource_spans[0]
    resource = b64(resource_spans.resource.SerializeToString())
    received_at = _received_at(dialect)
    async with database.write() as session:
        for span in resource_spans.scope_spans[0].spans:
            parent = span.parent_span_id.hex() or None
            await session.execute(
                text(STAGE),
                {
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent": parent,
                    "received_at": received_at,
                    "resource": resource,
                    "span": b64(span.SerializeToString()),
                },
            )
            if parent is None:
                await session.execute(
                    text(TOUCH),
                    {
                        "trace_id": span.trace_id.hex(),
                        "received_at": received_at,
                        "root": span.span_id.hex(),
                    },
                )


STAGE_BATCH = (
    "INSERT INTO otlp_staged_spans (trace_id, batch_id, received_at, span_count, resource, "
    "spans) VALUES (:trace_id, :batch_id, :received_at, :span_count, :resource, :spans)"
)


async def test_spans_staged_as_base64_text_become_the_execution_after_the_upgrade(
    dialect: str, settings: Settings
):
    if dialect == "postgresql":
        await empty_postgres(settings.resolved_database_url)
    database = Database.from_settings(settings)
    try:
        await upgrade(database, "0019")
        spans = record_spans(weather_agent)
        await _stage_as_base64_text(database, encode(spans), dialect)

        await upgrade(database)
        await _assert_assembled_as_the_weather_run(database, settings, spans)
    finally:
        await database.dispose()


async def test_a_downgrade_is_refused_while_traces_arrive_and_keeps_finished_runs(
    dialect: str, settings: Settings
):
    if dialect == "postgresql":
        await empty_postgres(settings.resolved_database_url)
    database = Database.from_settings(settings)
    try:
        await upgrade(database)
        spans = record_spans(weather_agent)
        export = ExportTraceServiceRequest.FromString(encode(spans))
        async with database.write() as session:
            await otlp_service.ingest(session, database.dialect, export, datetime.now(UTC))

        # Its spans are node executions of a running execution, which 0021 cannot finish.
        with pytest.raises(RuntimeError, match="1 OTLP traces are still arriving"):
            await _downgrade(database, "0019")
        assert await assemble_after(database, settings, 10) == 1
        await _downgrade(database, "0019")
        await upgrade(database)
        async with database.read() as session:
            trace = await repository.get_trace(session, trace_id_of(spans))
            nodes = await session.scalar(text("SELECT count(*) FROM node_executions"))
        assert trace is not None and trace.span_count == 3
        assert trace.execution_id == trace_id_of(spans)
        assert nodes == 3  # the three spans; no note row: nothing was missing or cut
    finally:
        await database.dispose()


async def _downgrade(database: Database, revision: str) -> None:
    def run(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), revision)

    async with database.writer.begin() as connection:
        await connection.run_sync(run)


async def _stage_as_base64_text(database: Database, request: bytes, dialect: str) -> None:
    """Stage a request as execlens did before migration 0020: base64 text, two rows."""
    resource_spans = ExportTraceServiceRequest.FromString(request).resource_spans[0]
    spans = list(resource_spans.scope_spans[0].spans)
    root = next(span for span in spans if not span.parent_span_id)
    received_at = _received_at(dialect)
    async with database.write() as session:
        # The children in one request, the root in a later one, as exporters send them.
        for batch_id, batch in (("a" * 32, spans[:-1]), ("b" * 32, spans[-1:])):
            await session.execute(
                text(STAGE_BATCH),
                {
                    "trace_id": root.trace_id.hex(),
                    "batch_id": batch_id,
                    "received_at": received_at,
                    "span_count": len(batch),
                    "resource": b64(resource_spans.resource.SerializeToString()),
                    "spans": b64(ScopeSpans(spans=batch).SerializeToString()),
                },
            )
        await session.execute(
            text(TOUCH),
            {
                "trace_id": root.trace_id.hex(),
                "received_at": received_at,
                "root": root.span_id.hex(),
            },
        )


async def test_staged_spans_are_compressed_with_lz4_on_postgresql(dialect: str, database):
    if dialect != "postgresql":
        pytest.skip("SQLite does not compress values")
    query = (
        "SELECT attname, attcompression::text FROM pg_attribute "
        "WHERE attrelid = 'otlp_staged_spans'::regclass AND attname IN ('resource', 'spans')"
    )
    async with database.read() as session:
        lz4 = await session.scalar(
            text(
                "SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression' "
                "AND 'lz4' = ANY(enumvals)"
            )
        )
        methods = dict((await session.execute(text(query))).tuples().all())
    # A server built without lz4 keeps its default ("" in the catalog), and still migrates.
    method = "l" if lz4 else ""
    assert methods == {"resource": method, "spans": method}
