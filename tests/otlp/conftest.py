"""OTLP fixtures: spans from the real OpenTelemetry SDK, an ingest key, a real server."""

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from execlens.app import create_app
from execlens.auth.models import ApiKeyScope
from execlens.auth.service import api_key_service
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.otlp.service import otlp_service
from tests.local_server import ThreadedServer

PROTOBUF = {"Content-Type": "application/x-protobuf"}


async def create_key(database: Database, scope: ApiKeyScope = ApiKeyScope.INGEST) -> str:
    """Create an API key and return it."""
    async with database.write() as session:
        _, plaintext = await api_key_service.create(
            session, name=f"otel {scope}", scope=scope, actor="test"
        )
    return plaintext


@pytest.fixture
async def ingest_key(database: Database) -> str:
    return await create_key(database)


def record_spans(
    build: Callable[[Any], None], service: str = "weather-service"
) -> list[ReadableSpan]:
    """Run ``build(tracer)`` under a real SDK tracer provider; return the finished spans."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    build(provider.get_tracer("tests.otlp"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def weather_agent(tracer: Any, *, fail_tool: bool = False) -> None:
    """Spans of a small agent run, in the GenAI semantic conventions."""
    with tracer.start_as_current_span(
        "invoke_agent weather",
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "weather",
            "user.id": "user-7",
            "gen_ai.input.messages": '[{"role": "user", "parts": [{"type": "text", '
            '"content": "Weather in Paris?"}]}]',
            "gen_ai.output.messages": '[{"role": "assistant", "parts": [{"type": "text", '
            '"content": "Sunny, 21 C."}]}]',
        },
    ):
        with tracer.start_as_current_span(
            "chat gpt-4.1-mini",
            attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4.1-mini"},
        ):
            pass
        with tracer.start_as_current_span(
            "execute_tool get_weather",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "get_weather",
                "gen_ai.tool.call.arguments": '{"city": "Paris"}',
                "gen_ai.tool.call.result": '{"sky": "sunny", "celsius": 21}',
            },
        ) as tool:
            if fail_tool:
                tool.record_exception(TimeoutError("weather service timed out"))
                tool.set_status(Status(StatusCode.ERROR, "tool failed"))


def encode(spans: Sequence[ReadableSpan]) -> bytes:
    """Return spans as the SDK's OTLP exporter sends them (protobuf)."""
    return encode_spans(spans).SerializeToString()


def trace_id_of(spans: Sequence[ReadableSpan]) -> str:
    return format(spans[0].context.trace_id, "032x")


def later(seconds: float) -> datetime:
    """Return a time ``seconds`` from now: assembling 'then' needs no sleeping in tests."""
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def assemble_after(database: Database, settings: Settings, seconds: float) -> int:
    """Assemble what would be ready ``seconds`` from now."""
    return await otlp_service.assemble_ready(database, settings, later(seconds))


@pytest.fixture
def otlp_settings(settings: Settings) -> Settings:
    """Settings with a short grace period, so a real server assembles within a second."""
    return settings.model_copy(
        update={
            "otlp_grace_seconds": 0.3,
            "otlp_assembly_poll_seconds": 0.1,
            "rate_limit_per_minute": 0,
            "local_model_enabled": False,
        }
    )


@pytest.fixture
def otlp_server(otlp_settings: Settings, database: Database) -> Iterator[str]:
    """A real execlens server on 127.0.0.1 that assembles traces in the background."""
    server = ThreadedServer(create_app(otlp_settings, worker=False), lifespan="on")
    server.start(seconds=30)
    yield f"http://127.0.0.1:{server.port}"
    server.stop(seconds=10)


async def wait_for_execution(
    base_url: str, headers: dict[str, str], execution_id: str, seconds: float = 20
) -> dict[str, Any]:
    """Poll the API until the execution's trace has finished; return it."""
    deadline = time.monotonic() + seconds
    async with httpx2.AsyncClient(base_url=base_url, headers=headers) as client:
        while time.monotonic() < deadline:
            response = await client.get(f"/api/executions/{execution_id}")
            # While its spans arrive, the run is listed as RUNNING.
            if response.status_code == 200 and response.json()["status"] != "RUNNING":
                return response.json()
            assert response.status_code in (200, 404), response.text
            await asyncio.sleep(0.1)
    raise AssertionError(f"execution {execution_id} was not assembled in {seconds} s")
