"""Credentials are checked before a request body is read; anonymous callers are rate-limited."""

import http.client
import socket
from collections.abc import AsyncIterator

import httpx2
import pytest

from execlens.api.limits import RateLimiter
from execlens.app import create_app
from execlens.config import Settings
from tests.conftest import JWT_SECRET
from tests.factories import make_execution
from tests.local_server import ThreadedServer

JSON = {"content-type": "application/json"}
NO_VALID_CREDENTIALS = {
    "none": {},
    "forged token": {"Authorization": "Bearer not-a-token"},
    "unknown API key": {"X-API-Key": "exl_unknownkey000000"},
    "bad session cookie": {"Cookie": "execlens_session=garbage"},
}


async def test_anonymous_malformed_json_gets_401_not_a_parse_error(client):
    response = await client.post("/api/executions", content=b"{bad", headers=JSON)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert "credentials required" in response.json()["detail"]


@pytest.mark.parametrize("headers", NO_VALID_CREDENTIALS.values(), ids=NO_VALID_CREDENTIALS)
async def test_a_body_without_valid_credentials_is_never_read(client, headers):
    consumed = 0

    async def four_mebibytes() -> AsyncIterator[bytes]:
        nonlocal consumed
        for _ in range(64):
            consumed += 1
            yield b"x" * 65_536

    response = await client.post(
        "/api/executions", content=four_mebibytes(), headers=headers | JSON
    )
    assert response.status_code == 401, response.text
    assert consumed == 0, "the body was read before the credentials were checked"


async def test_valid_credentials_reach_the_endpoint_as_before(client, admin_headers):
    malformed = await client.post("/api/executions", content=b"{bad", headers=admin_headers | JSON)
    assert malformed.status_code == 422, malformed.text
    batch = {"executions": [make_execution("e-1")]}
    assert (await client.post("/api/executions", json=batch, headers=admin_headers)).is_success
    listed = await client.get("/api/executions", headers=admin_headers)
    assert [item["id"] for item in listed.json()["items"]] == ["e-1"]


def _freeze_rate_limit_clock(app, settings) -> None:
    # A stopped clock: on a loaded machine a second between two requests would refill
    # the bucket a little and turn the announced Retry-After of 20 into 19.
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute, clock=lambda: 1000.0)


def _client_at(app, address: str) -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=app, client=(address, 40_000))
    return httpx2.AsyncClient(transport=transport, base_url="http://execlens.test")


async def test_anonymous_requests_are_rate_limited_per_client_address(
    settings, database, admin_headers
):
    limited = settings.model_copy(update={"rate_limit_per_minute": 3})
    app = create_app(limited, database=database, migrate=False)
    _freeze_rate_limit_clock(app, limited)
    async with _client_at(app, "10.0.0.1") as one, _client_at(app, "10.0.0.2") as two:
        for headers in list(NO_VALID_CREDENTIALS.values())[:3]:
            response = await one.post("/api/executions", content=b"{bad", headers=headers | JSON)
            assert response.status_code == 401
        over = await one.post("/api/executions", content=b"{bad", headers=JSON)
        assert over.status_code == 429, over.text
        assert over.headers["retry-after"] == "20"  # 3 a minute: one more every 20 s
        assert "EXECLENS_RATE_LIMIT_PER_MINUTE" in over.json()["detail"]
        # Valid credentials from the same address count against themselves, not the address.
        assert (await one.get("/api/executions", headers=admin_headers)).status_code == 200
        # Another address has its own budget.
        assert (await two.post("/api/executions", content=b"{bad", headers=JSON)).status_code == 401


async def test_the_sign_in_page_counts_against_the_client_address(settings, database):
    limited = settings.model_copy(update={"rate_limit_per_minute": 3})
    app = create_app(limited, database=database, migrate=False)
    _freeze_rate_limit_clock(app, limited)
    async with _client_at(app, "10.0.0.3") as client:
        for _ in range(3):
            assert (await client.get("/login")).status_code == 200
        over = await client.post("/login", data={"credential": "exl_guess0000000"})
        assert over.status_code == 429
        assert over.headers["retry-after"] == "20"
        # Health checks and static assets are never counted.
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/static/app.css")).status_code == 200


def test_a_stalled_anonymous_upload_is_answered_at_once(tmp_path):
    # A real socket: the client declares 32 MB, sends one byte and waits. The 401 must come
    # without the server waiting for (or buffering) the rest.
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        jwt_secret=JWT_SECRET,
    )
    server = ThreadedServer(create_app(settings, migrate=False), lifespan="off")
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(
                b"POST /api/executions HTTP/1.1\r\nHost: execlens.test\r\n"
                b"Content-Type: application/json\r\nContent-Length: 32000000\r\n\r\n{"
            )
            reply = http.client.HTTPResponse(sock)
            reply.begin()
            body = reply.read()
    finally:
        server.stop()
    assert reply.status == 401, body
    assert b"credentials required" in body
