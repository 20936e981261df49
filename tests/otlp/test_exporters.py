"""The OpenTelemetry SDK's own OTLP/HTTP exporters, configured by environment, over a socket."""

import asyncio

import pytest
from opentelemetry.exporter.otlp.json.http.trace_exporter import (
    OTLPSpanExporter as JsonSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as ProtobufSpanExporter,
)
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.otlp.conftest import record_spans, trace_id_of, wait_for_execution, weather_agent

EXPORTERS = {"protobuf": ProtobufSpanExporter, "json": JsonSpanExporter}


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
async def test_the_sdk_exporter_configured_by_two_variables_delivers_a_run(
    encoding, otlp_server, ingest_key, admin_headers, monkeypatch
):
    # What the README tells users to set, and nothing else.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_server)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"x-api-key={ingest_key}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    spans = record_spans(lambda tracer: weather_agent(tracer, fail_tool=True))
    exporter = EXPORTERS[encoding]()
    try:
        result = await asyncio.to_thread(exporter.export, spans)
    finally:
        exporter.shutdown()
    assert result is SpanExportResult.SUCCESS

    execution = await wait_for_execution(otlp_server, admin_headers, trace_id_of(spans))
    assert execution["graph_id"] == "weather"
    assert execution["user_id"] == "user-7"
    assert [n["block_name"] for n in execution["node_executions"]] == [
        "invoke_agent weather",
        "chat gpt-4.1-mini",
        "execute_tool get_weather",
    ]
    assert execution["node_executions"][2]["status"] == "FAILED"


async def test_a_refused_key_fails_the_export_without_retrying(otlp_server, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_server)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=exl_revoked")
    exporter = ProtobufSpanExporter(timeout=5)
    try:
        result = await asyncio.to_thread(exporter.export, record_spans(weather_agent))
    finally:
        exporter.shutdown()
    assert result is SpanExportResult.FAILURE
