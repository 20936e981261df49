"""Every /api route requires an admin (or, for ingestion, an ingest key)."""

import stat
from datetime import timedelta

import httpx2
import jwt
import pytest

from execlens.app import create_app
from execlens.auth.deps import CurrentPrincipal
from execlens.auth.models import ApiKeyScope
from execlens.auth.service import api_key_service, issue_token
from execlens.config import Settings
from execlens.jwt_secret import local_secret_path
from tests.conftest import JWT_SECRET
from tests.factories import make_execution, make_graph


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _create_key(database, scope: ApiKeyScope) -> str:
    async with database.write() as session:
        _, plaintext = await api_key_service.create(
            session, name=f"{scope} key", scope=scope, actor="test"
        )
    return plaintext


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(issue_token("another-secret-that-is-long-enough-0123"), id="other-key"),
        pytest.param(issue_token(JWT_SECRET, ttl=timedelta(minutes=-5)), id="expired"),
        pytest.param(
            jwt.encode({"sub": "x", "role": "admin", "exp": 4102444800}, None, algorithm="none"),
            id="alg-none",
        ),
        pytest.param(
            jwt.encode({"sub": "x", "role": "admin"}, JWT_SECRET, algorithm="HS256"), id="no-exp"
        ),
        pytest.param(
            jwt.encode(
                {"sub": "x", "role": "admin", "exp": 4102444800}, JWT_SECRET * 2, algorithm="HS512"
            ),
            id="other-alg",
        ),
        pytest.param("not.a.jwt", id="garbage"),
    ],
)
async def test_invalid_tokens_get_401(client, token):
    response = await client.get("/api/executions", headers=_bearer(token))
    assert response.status_code == 401
    assert JWT_SECRET not in response.text


async def test_valid_non_admin_token_gets_403(client):
    for role in ("authenticated", None):
        headers = _bearer(issue_token(JWT_SECRET, subject="user-7", role=role))
        assert (await client.get("/api/executions", headers=headers)).status_code == 403
        ingest = await client.post(
            "/api/executions", json={"executions": [make_execution()]}, headers=headers
        )
        assert ingest.status_code == 403


async def test_ingest_key_can_write_but_not_read(client, database):
    headers = {"X-API-Key": await _create_key(database, ApiKeyScope.INGEST)}
    assert (await client.put("/api/graphs", json=make_graph(), headers=headers)).status_code == 200
    batch = {"executions": [make_execution()]}
    assert (await client.post("/api/executions", json=batch, headers=headers)).status_code == 200
    assert (await client.get("/api/executions", headers=headers)).status_code == 403
    assert (await client.get("/api/executions/e-1", headers=headers)).status_code == 403


async def test_admin_key_reads_and_a_revoked_or_unknown_key_gets_401(client, database):
    plaintext = await _create_key(database, ApiKeyScope.ADMIN)
    assert (
        await client.get("/api/executions", headers={"X-API-Key": plaintext})
    ).status_code == 200
    async with database.write() as session:
        (key,) = await api_key_service.list(session)
        assert key.key_hash != plaintext and plaintext not in key.key_hash
        await api_key_service.revoke(session, key.id, actor="test")
    assert (
        await client.get("/api/executions", headers={"X-API-Key": plaintext})
    ).status_code == 401
    unknown = {"X-API-Key": "exl_made-up"}
    assert (await client.get("/api/executions", headers=unknown)).status_code == 401


async def _client_for(settings: Settings, database) -> httpx2.AsyncClient:
    app = create_app(settings, database=database, migrate=False)
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://t")


async def test_audience_is_checked_when_configured(settings, database):
    settings = settings.model_copy(update={"jwt_audience": "authenticated"})
    async with await _client_for(settings, database) as client:
        right = issue_token(JWT_SECRET, audience="authenticated")
        wrong = issue_token(JWT_SECRET, audience="someone-else")
        missing = issue_token(JWT_SECRET)
        assert (await client.get("/api/executions", headers=_bearer(right))).status_code == 200
        assert (await client.get("/api/executions", headers=_bearer(wrong))).status_code == 401
        assert (await client.get("/api/executions", headers=_bearer(missing))).status_code == 401


async def test_role_claim_name_is_configurable(settings, database):
    settings = settings.model_copy(update={"jwt_role_claim": "app_metadata.role"})
    async with await _client_for(settings, database) as client:
        nested = issue_token(JWT_SECRET, role_claim="app_metadata.role")
        top_level = issue_token(JWT_SECRET)
        assert (await client.get("/api/executions", headers=_bearer(nested))).status_code == 200
        assert (await client.get("/api/executions", headers=_bearer(top_level))).status_code == 403


async def test_without_a_secret_the_server_generates_a_private_one(settings, database):
    settings = settings.model_copy(update={"jwt_secret": None})
    async with await _client_for(settings, database) as client:
        path = local_secret_path(settings)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        token = issue_token(path.read_text())
        assert (await client.get("/api/executions", headers=_bearer(token))).status_code == 200
        forged = issue_token(JWT_SECRET)
        assert (await client.get("/api/executions", headers=_bearer(forged))).status_code == 401


async def test_health_needs_no_credentials(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_an_admin_may_act_as_a_user(app, client, database, admin_headers):
    @app.get("/api/test-whoami")
    async def whoami(principal: CurrentPrincipal) -> dict:
        return {"subject": principal.subject, "acting_as": principal.acting_as}

    acting = admin_headers | {"X-Act-As-User-Id": "user-42"}
    response = await client.get("/api/test-whoami", headers=acting)
    assert response.json() == {"subject": "local-admin", "acting_as": "user-42"}
    assert (await client.get("/api/test-whoami", headers=admin_headers)).json()["acting_as"] is None

    ingest = {"X-API-Key": await _create_key(database, ApiKeyScope.INGEST)}
    response = await client.get("/api/test-whoami", headers=ingest | {"X-Act-As-User-Id": "u"})
    assert response.status_code == 403
    assert "X-Act-As-User-Id" in response.json()["detail"]
    anonymous = await client.get("/api/test-whoami", headers={"X-Act-As-User-Id": "u"})
    assert anonymous.status_code == 401
    too_long = await client.get(
        "/api/test-whoami", headers=admin_headers | {"X-Act-As-User-Id": "u" * 500}
    )
    assert too_long.status_code == 422
    assert too_long.json()["message"].startswith("X-Act-As-User-Id: give a user id of 1 to")
