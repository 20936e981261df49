"""No API key, JWT or provider key reaches a log record, an error response or CLI output."""

import logging
from collections.abc import Iterator

import httpx2
import pytest
from pydantic import SecretStr

from execlens.app import create_app
from execlens.auth.deps import AdminPrincipal
from execlens.auth.models import ApiKeyScope
from execlens.auth.service import api_key_service, issue_token
from execlens.errors import UserError
from execlens.executions.schemas import ExecutionIn, GraphIn
from execlens.executions.service import execution_service
from tests.conftest import JWT_SECRET
from tests.factories import make_graph
from tests.fake_llm import FakeLLM, Reply
from tests.judge.conftest import blog_run

OPENAI_KEY = "sk-proj-leakcheck-openai-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-api03-leakcheck-anthropic-0123456789"
# Not shaped like any known key: only the configured value can catch it.
COMPATIBLE_KEY = "gsk_leakcheck_compatible_0123456789"


@pytest.fixture
def leaky_settings(settings):
    return settings.model_copy(
        update={
            "openai_api_key": SecretStr(OPENAI_KEY),
            "anthropic_api_key": SecretStr(ANTHROPIC_KEY),
            "compatible_api_key": SecretStr(COMPATIBLE_KEY),
        }
    )


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


def _captured(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts += [record.getMessage(), record.exc_text or "", str(record.__dict__)]
    return "\n".join(parts)


def _assert_clean(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text, f"leaked {secret[:12]}…"


async def test_api_errors_and_logs_carry_no_secrets(leaky_settings, database, everything_logged):
    app = create_app(leaky_settings, database=database, migrate=False)
    admin_token = issue_token(JWT_SECRET)
    forged = issue_token("an-attacker-secret-that-is-long-enough")
    async with database.write() as session:
        _, api_key = await api_key_service.create(
            session, name="ci", scope=ApiKeyScope.ADMIN, actor="test"
        )

    @app.get("/api/test-crash")
    async def crash(_: AdminPrincipal) -> None:
        # What a careless provider error looks like: every secret in one message.
        raise RuntimeError(
            f"provider refused key {OPENAI_KEY} ({ANTHROPIC_KEY}, {COMPATIBLE_KEY}) "
            f"for Authorization: Bearer {admin_token}, X-API-Key {api_key}, secret {JWT_SECRET}"
        )

    @app.get("/api/test-user-error")
    async def user_error(_: AdminPrincipal) -> None:
        raise UserError(f"the provider rejected {OPENAI_KEY}; check OPENAI_API_KEY")

    logging.getLogger("httpx2").debug("request headers: %s", {"x-api-key": api_key})
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    responses = []
    async with httpx2.AsyncClient(transport=transport, base_url="http://t") as client:
        admin = {"Authorization": f"Bearer {admin_token}"}
        for headers in (
            {"Authorization": f"Bearer {forged}"},
            {"Authorization": f"Bearer {JWT_SECRET}"},
            {"X-API-Key": api_key + "-tampered"},
        ):
            response = await client.get("/api/executions", headers=headers)
            assert response.status_code == 401
            responses.append(response)
        crashed = await client.get("/api/test-crash", headers=admin)
        assert crashed.status_code == 500
        assert crashed.json()["request_id"]
        refused = await client.get("/api/test-user-error", headers=admin)
        assert refused.status_code == 422
        assert "check OPENAI_API_KEY" in refused.json()["detail"]
        responses += [crashed, refused]

    logs = _captured(everything_logged)
    # The scenarios did log the secrets' context, so the check below is not vacuous.
    assert "provider refused key [redacted]" in logs
    assert "exl_[redacted]" in logs
    secrets = [OPENAI_KEY, ANTHROPIC_KEY, COMPATIBLE_KEY, JWT_SECRET, admin_token, api_key, forged]
    _assert_clean(logs, secrets)
    for response in responses:
        _assert_clean(response.text + str(response.headers), secrets)


async def test_an_llm_error_quoting_the_key_is_not_repeated(cli, database, everything_logged):
    async with database.write() as session:
        await execution_service.ingest(
            session,
            database.dialect,
            graphs=[GraphIn.model_validate(make_graph())],
            executions=[ExecutionIn.model_validate(blog_run())],
        )
    llm = FakeLLM().start()
    try:
        # Providers quote (part of) a rejected key back; a proxy may quote all of it.
        llm.then(Reply(status=401, error=f"Incorrect API key provided: {OPENAI_KEY}"))
        env = {
            "OPENAI_API_KEY": OPENAI_KEY,
            "OPENAI_BASE_URL": llm.base_url,
            "EXECLENS_LOCAL_MODEL_ENABLED": "false",
            "EXECLENS_JUDGE_MAX_RETRIES": "0",
        }
        result = await cli("judge", "run-1", "--model", "gpt-4.1-mini", "--no-rules", extra_env=env)
    finally:
        llm.stop()
    assert result.exit_code == 1
    assert "HTTP 401" in result.output
    assert llm.received[0].headers["authorization"] == f"Bearer {OPENAI_KEY}"
    _assert_clean(result.output + _captured(everything_logged), [OPENAI_KEY, JWT_SECRET])
