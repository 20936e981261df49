"""Request limits: a body size ceiling answered with 413, per-principal rate limits with 429."""

import json
from collections.abc import AsyncIterator

import httpx2
import pytest

from execlens.api.limits import RateLimiter
from execlens.app import create_app
from execlens.auth.models import ApiKeyScope
from execlens.auth.service import api_key_service, issue_token
from tests.conftest import JWT_SECRET
from tests.factories import make_execution

LIMIT = 4096


@pytest.fixture
async def small_client(settings, database) -> AsyncIterator[httpx2.AsyncClient]:
    limited = settings.model_copy(update={"max_body_bytes": LIMIT, "rate_limit_per_minute": 3})
    app = create_app(limited, database=database, migrate=False)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://t"
    ) as client:
        yield client


def _batch(n: int) -> bytes:
    return json.dumps({"executions": [make_execution(f"e-{i}") for i in range(n)]}).encode()


async def test_a_declared_body_over_the_limit_gets_413(small_client, admin_headers):
    body = _batch(20)
    assert len(body) > LIMIT
    headers = admin_headers | {"content-type": "application/json"}
    response = await small_client.post("/api/executions", content=body, headers=headers)
    assert response.status_code == 413
    assert "4096 bytes" in response.json()["detail"]
    assert "EXECLENS_MAX_BODY_BYTES" in response.json()["detail"]


async def test_a_streamed_body_is_cut_off_as_it_crosses_the_limit(small_client, admin_headers):
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        body = _batch(20)
        for start in range(0, len(body), 1024):
            sent += 1
            yield body[start : start + 1024]

    headers = admin_headers | {"content-type": "application/json"}
    response = await small_client.post("/api/executions", content=chunks(), headers=headers)
    assert response.status_code == 413, response.text
    assert "EXECLENS_MAX_BODY_BYTES" in response.json()["detail"]
    assert sent == LIMIT // 1024 + 1, "the rest of the body is never read"
    listed = await small_client.get("/api/executions", headers=admin_headers)
    assert listed.json()["items"] == []


async def test_a_body_under_the_limit_is_accepted(small_client, admin_headers):
    body = _batch(1)
    assert len(body) < LIMIT
    headers = admin_headers | {"content-type": "application/json"}
    response = await small_client.post("/api/executions", content=body, headers=headers)
    assert response.status_code == 200


async def test_each_principal_has_its_own_rate_limit(small_client, database):
    admin = {"Authorization": f"Bearer {issue_token(JWT_SECRET)}"}
    for _ in range(3):
        assert (await small_client.get("/api/executions", headers=admin)).status_code == 200
    limited = await small_client.get("/api/executions", headers=admin)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "20"  # 3 a minute: one more every 20 s
    assert "EXECLENS_RATE_LIMIT_PER_MINUTE" in limited.json()["detail"]

    async with database.write() as session:
        _, key = await api_key_service.create(
            session, name="k", scope=ApiKeyScope.ADMIN, actor="test"
        )
    other = {"X-API-Key": key}
    assert (await small_client.get("/api/executions", headers=other)).status_code == 200
    assert (await small_client.get("/api/executions")).status_code == 401


async def test_a_rate_limit_of_zero_turns_it_off(settings, database, admin_headers):
    unlimited = settings.model_copy(update={"rate_limit_per_minute": 0})
    app = create_app(unlimited, database=database, migrate=False)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://t") as client:
        for _ in range(30):
            assert (await client.get("/api/executions", headers=admin_headers)).status_code == 200


def test_buckets_refill_over_time():
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    assert all(limiter.acquire("a") == 0 for _ in range(60))
    assert limiter.acquire("a") == pytest.approx(1.0)
    now[0] += 2.0
    assert limiter.acquire("a") == 0
    assert limiter.acquire("a") == 0
    assert limiter.acquire("a") > 0
    assert limiter.acquire("b") == 0
