"""A local Ollama (or other OpenAI-compatible) server is offered without any setting."""

import asyncio
from collections.abc import Iterator

import pytest

from execlens.judge.detect import ProbeCache, probes
from tests.fake_llm import FakeLLM, answer
from tests.judge.conftest import fake_llm  # noqa: F401  (fixture)
from tests.upstream.test_config_route import _config

OLLAMA_MODELS = ["llama3.1:8b", "gemma3:4b"]


@pytest.fixture(autouse=True)
def fresh_probes() -> Iterator[None]:
    probes.clear()
    yield
    probes.clear()


def ollama_settings(settings, server: FakeLLM, **update):
    return settings.model_copy(
        update={"ollama_url": server.root_url, "local_model_enabled": False} | update
    )


async def test_an_answering_ollama_offers_its_models_in_the_config(
    settings,
    database,
    admin_headers,
    fake_llm: FakeLLM,  # noqa: F811
):
    fake_llm.models = OLLAMA_MODELS

    response = await _config(ollama_settings(settings, fake_llm), database, admin_headers)

    assert response.status_code == 200, response.text
    body = response.json()
    offered = {(m["provider"], m["value"]) for m in body["available_models"]}
    assert offered == {("ollama", "llama3.1:8b"), ("ollama", "gemma3:4b")}
    labels = {m["value"]: m["label"] for m in body["available_models"]}
    assert labels["gemma3:4b"].startswith("Ollama: Gemma3 4b")
    # A catalog model Ollama does not serve says how to get it.
    unavailable = {m["value"]: m["reason"] for m in body["unavailable_models"]}
    assert "ollama pull" in unavailable["qwen2.5:7b"]


async def test_the_embedded_model_stays_recommended_beside_a_detected_server(
    settings,
    database,
    admin_headers,
    fake_llm: FakeLLM,  # noqa: F811
):
    fake_llm.models = OLLAMA_MODELS
    configured = ollama_settings(settings, fake_llm, local_model_enabled=True)

    body = (await _config(configured, database, admin_headers)).json()

    assert body["recommended_model"] == "smollm2-135m-instruct"
    assert {"ollama", "local"} <= {m["provider"] for m in body["available_models"]}


async def test_another_openai_compatible_server_is_offered_too(
    settings,
    database,
    admin_headers,
    fake_llm: FakeLLM,  # noqa: F811
):
    fake_llm.models = ["Qwen/Qwen2.5-7B-Instruct"]
    configured = settings.model_copy(
        update={"local_openai_url": fake_llm.root_url, "local_model_enabled": False}
    )

    body = (await _config(configured, database, admin_headers)).json()

    assert [(m["provider"], m["value"], m["label"]) for m in body["available_models"]] == [
        (
            "local_server",
            "Qwen/Qwen2.5-7B-Instruct",
            "Local Server: Qwen2.5 7B Instruct (Recommended)",
        )
    ]


async def test_no_server_answering_offers_nothing_and_names_how_to_start_one(
    settings,
    database,
    admin_headers,
    fake_llm: FakeLLM,  # noqa: F811
):
    url = fake_llm.root_url
    fake_llm.stop()  # nothing listens there any more

    body = (await _config(ollama_settings(settings, fake_llm), database, admin_headers)).json()

    assert body["available_models"] == []
    unavailable = {m["value"]: m["reason"] for m in body["unavailable_models"]}
    assert unavailable["llama3.1:8b"].startswith(f"start Ollama at {url}")


async def test_demo_judges_with_a_detected_ollama_model(
    cli,
    database,
    fake_llm: FakeLLM,  # noqa: F811
):
    fake_llm.models = OLLAMA_MODELS
    fake_llm.default = answer("The agent did what was asked.", 0.9)
    env = {
        "EXECLENS_OLLAMA_URL": fake_llm.root_url,
        "EXECLENS_LOCAL_MODEL_ENABLED": "false",
        "EXECLENS_JOB_POLL_SECONDS": "0.05",
    }

    result = await cli(
        "demo", "--days", "2", "--judge-per-agent", "1", "--model", "gemma3:4b", extra_env=env
    )

    assert result.exit_code == 0, result.output
    assert "by ollama:gemma3:4b" in result.stdout
    assert "ollama/gemma3:4b" in result.stdout
    assert {r.body["model"] for r in fake_llm.received} == {"gemma3:4b"}


async def test_demo_with_a_model_no_server_serves_is_one_line(
    cli,
    database,
    fake_llm: FakeLLM,  # noqa: F811
):
    fake_llm.models = OLLAMA_MODELS
    env = {"EXECLENS_OLLAMA_URL": fake_llm.root_url, "EXECLENS_LOCAL_MODEL_ENABLED": "false"}

    result = await cli("demo", "--days", "1", "--model", "mistral:7b", extra_env=env)

    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert "'mistral:7b' is not available; choose one of: gemma3:4b, llama3.1:8b" in line
    assert "loaded" not in result.output


async def test_a_stale_probe_answers_with_what_was_seen_while_a_thread_asks_again(
    fake_llm: FakeLLM,  # noqa: F811
):
    # Callers run on the server's event loop: a slow server must not hold it up.
    cache = ProbeCache(ttl_seconds=0.0)  # every answer is stale at once
    fake_llm.models = ["llama3.1:8b"]
    assert cache.models(fake_llm.root_url, 5.0) == ("llama3.1:8b",)
    fake_llm.models = ["gemma3:4b"]
    fake_llm.models_delay = 0.5

    assert cache.models(fake_llm.root_url, 5.0) == ("llama3.1:8b",)

    for _ in range(100):
        if cache.models(fake_llm.root_url, 5.0) == ("gemma3:4b",):
            break
        await asyncio.sleep(0.05)
    assert cache.models(fake_llm.root_url, 5.0) == ("gemma3:4b",)
