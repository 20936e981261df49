"""Real agent frameworks, instrumented as their users do, traced into execlens over a socket.

pydantic-ai's built-in instrumentation (GenAI semantic conventions) and OpenInference's
OpenAI Agents SDK instrumentation, each driving an agent with one tool against the fake
OpenAI-compatible server; spans go through the SDK's OTLP/HTTP protobuf exporter.
"""

from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.fake_llm import FakeLLM, Reply
from tests.otlp.conftest import trace_id_of, wait_for_execution


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """The model answers with one get_weather call, then with text."""
    server = FakeLLM().start()
    server.then(Reply('{"city": "Paris"}'), Reply("Sunny, 21 C.", tool_call=False))
    yield server
    server.stop()


@pytest.fixture
def traced(
    otlp_server: str, ingest_key: str
) -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A tracer provider exporting to execlens, as an application sets one up."""
    provider = TracerProvider(resource=Resource.create({"service.name": "weather-app"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{otlp_server}/v1/traces", headers={"x-api-key": ingest_key}
    )
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=100))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield provider, memory
    provider.shutdown()


def get_weather(city: str) -> str:
    """Return the weather in a city."""
    return f"sunny in {city}"


async def test_pydantic_ai_instrumentation(fake_llm, traced, otlp_server, admin_headers):
    from pydantic_ai import Agent
    from pydantic_ai.capabilities.instrumentation import Instrumentation
    from pydantic_ai.models.instrumented import InstrumentationSettings
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    provider, memory = traced
    model = OpenAIChatModel(
        "gpt-4.1-mini", provider=OpenAIProvider(base_url=fake_llm.base_url, api_key="x")
    )
    agent = Agent(
        model,
        name="weather",
        tools=[get_weather],
        capabilities=[Instrumentation(settings=InstrumentationSettings(tracer_provider=provider))],
    )
    result = await agent.run("Weather in Paris?")
    assert result.output == "Sunny, 21 C."
    provider.force_flush()

    execution = await wait_for_execution(
        otlp_server, admin_headers, trace_id_of(memory.get_finished_spans())
    )
    assert execution["graph_id"] == "weather"
    assert execution["status"] == "COMPLETED"
    nodes = execution["node_executions"]
    assert [n["block_name"] for n in nodes] == [
        "invoke_agent weather",
        "chat gpt-4.1-mini",
        "execute_tool get_weather",
        "chat gpt-4.1-mini",
    ]
    assert nodes[0]["output"] == "Sunny, 21 C."
    assert nodes[2]["input"] == {"city": "Paris"}
    assert nodes[2]["output"] == "sunny in Paris"
    assert nodes[3]["output"][0]["parts"][0]["content"] == "Sunny, 21 C."


async def test_openinference_openai_agents_instrumentation(
    fake_llm, traced, otlp_server, admin_headers
):
    from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool
    from openai import AsyncOpenAI
    from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

    provider, memory = traced
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        client = AsyncOpenAI(base_url=fake_llm.base_url, api_key="x")
        agent = Agent(
            name="weather",
            instructions="Answer questions about the weather.",
            tools=[function_tool(get_weather)],
            model=OpenAIChatCompletionsModel(model="gpt-4.1-mini", openai_client=client),
        )
        result = await Runner.run(agent, "Weather in Paris?")
    finally:
        instrumentor.uninstrument()
    assert result.final_output == "Sunny, 21 C."
    provider.force_flush()

    execution = await wait_for_execution(
        otlp_server, admin_headers, trace_id_of(memory.get_finished_spans())
    )
    assert execution["graph_id"] == "weather"
    assert execution["status"] == "COMPLETED"
    nodes = {n["block_name"]: n for n in execution["node_executions"]}
    assert {"AGENT weather", "LLM gpt-4.1-mini", "TOOL get_weather"} <= set(nodes)
    assert nodes["TOOL get_weather"]["input"] == {"city": "Paris"}
    assert nodes["TOOL get_weather"]["output"] == "sunny in Paris"
    llm_outputs = [
        n["output"] for n in execution["node_executions"] if n["block_name"] == "LLM gpt-4.1-mini"
    ]
    assert llm_outputs[-1][0]["content"] == "Sunny, 21 C."
