"""Dashboard sign-in: the session cookie, CSRF protection, the one-click link, sign-out."""

from datetime import timedelta
from http.cookies import SimpleCookie

import httpx2
import pytest

from execlens.app import create_app
from execlens.auth.links import issue_link_token
from execlens.auth.models import ApiKeyScope
from execlens.auth.service import api_key_service, issue_token
from execlens.jwt_secret import resolve_jwt_secret
from tests.conftest import JWT_SECRET

TOKEN = issue_token(JWT_SECRET)


def set_cookies(response: httpx2.Response) -> dict[str, SimpleCookie]:
    """Return each Set-Cookie header of a response, parsed, by cookie name."""
    parsed = {}
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        parsed.update({name: cookie for name in cookie})
    return parsed


async def login_form(client: httpx2.AsyncClient) -> str:
    """Open the sign-in page and return the CSRF token of its form."""
    response = await client.get("/login")
    assert response.status_code == 200
    return client.cookies["execlens_csrf"]


async def sign_in(client: httpx2.AsyncClient, credential: str, next_path: str = "/trends"):
    csrf = await login_form(client)
    return await client.post(
        "/login", data={"credential": credential, "csrf": csrf, "next": next_path}
    )


async def test_sign_in_sets_an_http_only_strict_cookie_that_authenticates_the_api(client):
    response = await sign_in(client, TOKEN, "/trends?graph_id=g-1")
    assert response.status_code == 303
    assert response.headers["location"] == "/trends?graph_id=g-1"
    cookies = set_cookies(response)
    session = cookies["execlens_session"]["execlens_session"]
    assert session.value == TOKEN
    assert session["httponly"] and session["samesite"].lower() == "strict"
    assert not session["secure"]
    assert 0 < int(session["max-age"]) <= 24 * 3600
    # The CSRF token is readable by the page's script, so it is not HttpOnly.
    assert not cookies["execlens_csrf"]["execlens_csrf"]["httponly"]

    assert (await client.get("/api/graphs")).json() == {"items": []}
    page = await client.get("/trends")
    assert page.status_code == 200
    assert "Content-Security-Policy" in page.headers
    assert client.cookies["execlens_csrf"] in page.text


async def test_cookie_requests_with_unsafe_methods_need_the_csrf_header(client):
    await sign_in(client, TOKEN)
    url = "/api/analytics/jobs/estimate"
    refused = await client.post(url, json={"graph_id": "g"})
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["detail"]
    wrong = await client.post(url, json={"graph_id": "g"}, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    csrf = {"X-CSRF-Token": client.cookies["execlens_csrf"]}
    passed = await client.post(url, json={"graph_id": "g"}, headers=csrf)
    assert passed.status_code == 200
    assert passed.json()["matching_executions"] == 0


async def test_header_credentials_need_no_csrf_token_even_beside_a_cookie(client, admin_headers):
    client.cookies.set("execlens_session", "not-a-token")
    response = await client.post(
        "/api/analytics/jobs/estimate", json={"graph_id": "g"}, headers=admin_headers
    )
    assert response.status_code == 200


async def test_a_bad_or_non_admin_credential_is_refused_with_the_reason(client, database):
    expired = issue_token(JWT_SECRET, ttl=timedelta(seconds=-120))
    response = await sign_in(client, expired)
    assert response.status_code == 401
    assert "token has expired" in response.text
    assert "execlens_session" not in set_cookies(response)

    async with database.write() as session:
        _, ingest_key = await api_key_service.create(
            session, name="w", scope=ApiKeyScope.INGEST, actor="test"
        )
    response = await sign_in(client, ingest_key)
    assert response.status_code == 403
    assert "not an admin" in response.text

    response = await sign_in(client, "   ")
    assert response.status_code == 422


async def test_an_admin_api_key_signs_in_too(client, database):
    async with database.write() as session:
        _, key = await api_key_service.create(
            session, name="ops", scope=ApiKeyScope.ADMIN, actor="test"
        )
    response = await sign_in(client, key)
    assert response.status_code == 303
    assert (await client.get("/api/alerts")).status_code == 200


async def test_the_sign_in_form_needs_its_csrf_token(client):
    await login_form(client)
    response = await client.post("/login", data={"credential": TOKEN, "csrf": "forged"})
    assert response.status_code == 403
    assert "execlens_session" not in set_cookies(response)


async def test_pages_send_the_browser_to_sign_in_without_a_valid_cookie(client):
    response = await client.get("/jobs/abc?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fjobs%2Fabc%3Fx%3D1"

    client.cookies.set("execlens_session", issue_token(JWT_SECRET, ttl=timedelta(seconds=-99)))
    response = await client.get("/analytics")
    assert response.status_code == 303
    assert response.headers["location"].endswith("&reason=expired")
    page = await client.get(response.headers["location"])
    assert "Your session has expired" in page.text


async def test_the_sign_in_page_shows_only_known_reasons(client):
    bait = "Your account is locked. Call +1 555 0100 or visit evil.example to unlock it"
    page = await client.get("/login", params={"reason": bait})
    assert page.status_code == 200
    assert "555 0100" not in page.text and "evil.example" not in page.text
    assert 'id="login-error"' not in page.text
    page = await client.get("/login", params={"reason": "not-admin"})
    assert "not an admin" in page.text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
async def test_sign_in_never_redirects_off_site(client, target):
    response = await sign_in(client, TOKEN, target)
    assert response.headers["location"] == "/"


async def test_sign_out_needs_the_csrf_token_and_clears_both_cookies(client):
    await sign_in(client, TOKEN)
    assert (await client.post("/logout", data={"csrf": "forged"})).status_code == 403
    response = await client.post("/logout", data={"csrf": client.cookies["execlens_csrf"]})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    cleared = set_cookies(response)
    for name in ("execlens_session", "execlens_csrf"):
        assert cleared[name][name]["max-age"] == "0"
    assert (await client.get("/api/graphs")).status_code == 401


async def test_cookies_are_secure_over_https(app):
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="https://execlens.test") as c:
        response = await sign_in(c, TOKEN)
    session = set_cookies(response)["execlens_session"]["execlens_session"]
    assert session["secure"]


@pytest.fixture
def local_settings(settings):
    """Local mode: no configured secret, so execlens signs its own tokens."""
    return settings.model_copy(update={"jwt_secret": None})


def local_client(local_settings, database) -> httpx2.AsyncClient:
    app = create_app(local_settings, database=database, migrate=False)
    transport = httpx2.ASGITransport(app=app)
    return httpx2.AsyncClient(transport=transport, base_url="http://execlens.test")


def link_token(local_settings, minutes: int = 15) -> str:
    return issue_link_token(
        local_settings, resolve_jwt_secret(local_settings, create=True), minutes
    )


async def test_local_mode_link_signs_in_at_once_and_drops_the_token_from_the_url(
    local_settings, database
):
    token = link_token(local_settings)
    async with local_client(local_settings, database) as c:
        response = await c.get("/login", params={"token": token, "next": "/alerts"})
        assert response.status_code == 303
        assert response.headers["location"] == "/alerts"
        assert response.headers["referrer-policy"] == "no-referrer"
        session = set_cookies(response)["execlens_session"]["execlens_session"]
        # The link's short-lived token is exchanged for a session-long one.
        assert session.value != token
        assert int(session["max-age"]) > 11 * 3600
        assert (await c.get("/alerts")).status_code == 200


async def test_a_link_works_once_even_across_server_processes(local_settings, database):
    token = link_token(local_settings)
    async with local_client(local_settings, database) as first:
        assert (await first.get("/login", params={"token": token})).status_code == 303
    # Another worker of the same deployment: its own app, the same database.
    async with local_client(local_settings, database) as second:
        again = await second.get("/login", params={"token": token})
    assert again.status_code == 401
    assert "already used" in again.text
    assert "execlens_session" not in set_cookies(again)


async def test_only_a_fresh_link_token_signs_in_through_the_url(local_settings, database):
    secret = resolve_jwt_secret(local_settings, create=True)
    admin_token = issue_token(secret)  # valid, but not a link: it must be pasted
    async with local_client(local_settings, database) as c:
        for token, reason in [
            (admin_token, "not valid"),
            (link_token(local_settings, minutes=-1), "expired"),
        ]:
            response = await c.get("/login", params={"token": token})
            assert response.status_code == 401
            assert reason in response.text
            assert "execlens_session" not in set_cookies(response)
        # A link's token is no bearer token: from a browser's history it opens nothing else.
        bearer = {"Authorization": f"Bearer {link_token(local_settings)}"}
        refused = await c.get("/api/graphs", headers=bearer)
        assert refused.status_code == 401
        assert "sign-in link" in refused.json()["detail"]


async def test_with_a_configured_secret_the_url_signs_nobody_in(client, settings):
    # Even a token signed with the configured secret: a link would allow login CSRF.
    for token in (TOKEN, issue_link_token(settings, JWT_SECRET)):
        response = await client.get("/login", params={"token": token})
        assert response.status_code == 401
        assert "only in local mode" in response.text
        assert "execlens_session" not in set_cookies(response)


async def test_a_form_with_too_many_fields_is_a_400_not_a_500(client):
    stuffed = "&".join(f"f{i}={i}" for i in range(11))
    form = {"content-type": "application/x-www-form-urlencoded"}
    response = await client.post("/login", content=stuffed, headers=form)
    assert response.status_code == 400
    assert "more than 10 fields" in response.text
    assert "execlens_session" not in set_cookies(response)

    client.cookies.set("execlens_session", TOKEN)
    response = await client.post("/logout", content=stuffed, headers=form)
    assert response.status_code == 400
    assert "more than 10 fields" in response.json()["detail"]
    assert "execlens_session" not in set_cookies(response)  # still signed in


async def test_a_sign_in_form_larger_than_any_credential_is_a_413_read_no_further(client):
    huge = "credential=" + "a" * 1_000_000
    form = {"content-type": "application/x-www-form-urlencoded"}
    response = await client.post("/login", content=huge, headers=form)

    assert response.status_code == 413
    assert "64 KiB" in response.text
    assert "execlens_session" not in set_cookies(response)
