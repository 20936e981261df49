"""GET /api/executions/admin/execution_analytics/config: models of configured providers only."""

from pydantic import SecretStr

from execlens.judge.prompts import DEFAULT_SYSTEM_PROMPT, DEFAULT_USER_PROMPT
from tests.conftest import JWT_SECRET

URL = "/api/executions/admin/execution_analytics/config"


async def _config(settings, database, headers):
    import httpx2

    from execlens.app import create_app

    app = create_app(settings, database=database, migrate=False)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://t"
    ) as client:
        return await client.get(URL, headers=headers)


async def test_only_configured_providers_are_offered(settings, database, admin_headers):
    settings = settings.model_copy(
        update={
            "openai_api_key": SecretStr("sk-x"),
            "compatible_base_url": "http://127.0.0.1:11434/v1",
            "compatible_provider": "ollama",
            "compatible_models": "llama3.1:8b, qwen2.5:7b",
            "local_model_enabled": False,
        }
    )
    response = await _config(settings, database, admin_headers)
    assert response.status_code == 200
    body = response.json()
    providers = {m["provider"] for m in body["available_models"]}
    assert providers == {"openai", "ollama"}
    # The compatible server offers exactly the models listed for it.
    ollama = {m["value"] for m in body["available_models"] if m["provider"] == "ollama"}
    assert ollama == {"llama3.1:8b", "qwen2.5:7b"}
    assert body["recommended_model"] == "gpt-4.1-mini"
    recommended = [m for m in body["available_models"] if m["label"].endswith(" (Recommended)")]
    assert recommended == [
        {
            "value": "gpt-4.1-mini",
            "label": "OpenAI: GPT 4.1 Mini (Recommended)",
            "provider": "openai",
        }
    ]
    keys = [(m["label"].split(":")[0], m["label"]) for m in body["available_models"]]
    assert keys == sorted(keys)
    assert body["default_system_prompt"] == DEFAULT_SYSTEM_PROMPT
    assert body["default_user_prompt"] == DEFAULT_USER_PROMPT
    assert "{{EXECUTION_DATA}}" in body["default_user_prompt"]


async def test_with_nothing_configured_but_the_local_model_it_is_recommended(
    settings, database, admin_headers
):
    response = await _config(settings, database, admin_headers)
    body = response.json()
    assert body["recommended_model"] == "smollm2-135m-instruct"
    assert [m["provider"] for m in body["available_models"]] == ["local"]
    assert JWT_SECRET not in response.text


async def test_models_of_unconfigured_providers_are_listed_with_what_to_set(
    settings, database, admin_headers
):
    settings = settings.model_copy(
        update={
            "openai_api_key": SecretStr("sk-x"),
            "compatible_base_url": "http://127.0.0.1:11434/v1",
            "compatible_provider": "ollama",
            "compatible_models": "llama3.1:8b",
            "local_model_enabled": False,
        }
    )
    body = (await _config(settings, database, admin_headers)).json()
    reasons = {(m["provider"], m["value"]): m["reason"] for m in body["unavailable_models"]}
    available = {(m["provider"], m["value"]) for m in body["available_models"]}
    assert not available & reasons.keys()
    assert reasons[("anthropic", "claude-haiku-4-5-20251001")] == (
        "set ANTHROPIC_API_KEY to use Anthropic models"
    )
    assert reasons[("local", "smollm2-135m-instruct")] == "EXECLENS_LOCAL_MODEL_ENABLED is false"
    # A configured compatible provider's unlisted models name the setting to extend.
    assert reasons[("ollama", "qwen2.5:7b")] == "add it to EXECLENS_COMPATIBLE_MODELS to use it"
    assert "EXECLENS_COMPATIBLE_PROVIDER=groq" in reasons[("groq", "llama-3.1-8b-instant")]
    assert not any(provider == "openai" for provider, _ in reasons)
