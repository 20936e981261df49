"""An instrumented agent's run travels in by OTLP, is judged, trends, and its score goes out.

Judging rules for new runs (issue 15 part C) do not exist yet: the run is judged by a
backfill job, with the fake OpenAI-compatible provider.
"""

import asyncio
import time
from collections.abc import Iterator

import httpx2
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from execlens.app import create_app
from execlens.config import Settings
from execlens.db.engine import Database
from tests.fake_llm import FakeLLM, Reply, answer
from tests.local_server import ThreadedServer
from tests.otlp.conftest import trace_id_of, wait_for_execution
from tests.otlp.log_receiver import LogReceiver


@pytest.fixture
def receiver() -> Iterator[LogReceiver]:
    """A collector that refuses the first export with 503, then takes them."""
    server = LogReceiver(fail_first=1).start()
    yield server
    server.stop()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    server = FakeLLM().start()
    # The agent: one tool call, then its answer. Then the judge: a verdict.
    server.then(Reply('{"city": "Paris"}'), Reply("Sunny, 21 C.", tool_call=False))
    server.default = answer("The agent looked up the weather and answered.", 0.9)
    yield server
    server.stop()


@pytest.fixture
def server(
    otlp_settings: Settings, database: Database, fake_llm: FakeLLM, receiver: LogReceiver
) -> Iterator[str]:
    """execlens serve: OTLP in, an analytics worker, scores out to the receiver."""
    settings = otlp_settings.model_copy(
        update={
            "openai_api_key": SecretStr("sk-test-openai-key-0000"),
            "openai_base_url": fake_llm.base_url,
            "judge_model": "gpt-4.1-mini",
            "otlp_export_endpoint": receiver.url,
            "otlp_export_headers": SecretStr("x-collector-token=secret-1"),
        }
    )
    app_server = ThreadedServer(create_app(settings, worker=True), lifespan="on")
    app_server.start(seconds=30)
    yield f"http://127.0.0.1:{app_server.port}"
    app_server.stop(seconds=15)


async def run_instrumented_agent(base_url: str, key: str, fake_llm: FakeLLM) -> str:
    """Run a pydantic-ai agent traced to execlens; return its trace id."""
    from pydantic_ai import Agent
    from pydantic_ai.capabilities.instrumentation import Instrumentation
    from pydantic_ai.models.instrumented import InstrumentationSettings
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    provider = TracerProvider(resource=Resource.create({"service.name": "weather-app"}))
    exporter = OTLPSpanExporter(endpoint=f"{base_url}/v1/traces", headers={"x-api-key": key})
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=100))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))

    def get_weather(city: str) -> str:
        """Return the weather in a city."""
        return f"sunny in {city}"

    model = OpenAIChatModel(
        "gpt-4.1-mini", provider=OpenAIProvider(base_url=fake_llm.base_url, api_key="x")
    )
    agent = Agent(
        model,
        name="weather",
        tools=[get_weather],
        capabilities=[Instrumentation(settings=InstrumentationSettings(tracer_provider=provider))],
    )
    await agent.run("Weather in Paris?")
    provider.shutdown()
    return trace_id_of(memory.get_finished_spans())


async def wait_until(check, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.2)


async def test_agent_run_in_by_otlp_is_judged_trends_and_its_score_goes_out(
    server, ingest_key, admin_headers, fake_llm, receiver
):
    trace_id = await run_instrumented_agent(server, ingest_key, fake_llm)
    execution = await wait_for_execution(server, admin_headers, trace_id)
    root_span_id = execution["node_executions"][0]["id"].split(":")[1]

    async with httpx2.AsyncClient(base_url=server, headers=admin_headers) as api:
        job = await api.post("/api/analytics/jobs", json={"graph_id": "weather"})
        assert job.status_code == 202, job.text
        job_id = job.json()["job_id"]

        async def job_done() -> bool:
            status = (await api.get(f"/api/analytics/jobs/{job_id}")).json()["status"]
            return status in ("completed", "failed", "paused", "cancelled")

        await wait_until(job_done)
        assert (await api.get(f"/api/analytics/jobs/{job_id}")).json()["status"] == "completed"
        judged = (await api.get(f"/api/executions/{trace_id}")).json()
        assert judged["stats"]["correctness_score"] == 0.9
        trend = (await api.get("/api/trends", params={"graph_id": "weather"})).json()
        assert trend["latest_data"]["daily_score"] == 90.0
        assert trend["latest_data"]["scored"] == 1

    async def event_arrived() -> bool:
        return bool(receiver.records)

    await wait_until(event_arrived)
    (record,) = receiver.records
    attributes = {kv.key: kv.value for kv in record.attributes}
    assert record.event_name == "gen_ai.evaluation.result"
    assert attributes["gen_ai.evaluation.name"].string_value == "execlens.correctness"
    assert attributes["gen_ai.evaluation.score.value"].double_value == 0.9
    assert attributes["gen_ai.evaluation.score.label"].string_value == "pass"
    assert "looked up the weather" in attributes["gen_ai.evaluation.explanation"].string_value
    assert record.trace_id.hex() == trace_id
    assert record.span_id.hex() == root_span_id
    # The first export was refused with 503 and retried; the configured header was sent.
    assert receiver.requests >= 2
    assert receiver.headers[-1]["x-collector-token"] == "secret-1"
