"""Every registered route needs credentials, except the few listed here on purpose."""

import re
from collections.abc import Iterator

from fastapi import FastAPI
from starlette.routing import Mount

# The only routes an anonymous caller may reach. Adding one here is a security decision.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/static/docs/any-file"),
    # The dashboard's sign-in page and form, and its static assets.
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/static/any-file"),
}
# How a public route is tried without credentials: (path to request, expected status).
PUBLIC_EXAMPLES = {
    ("GET", "/static/any-file"): ("/static/app.css", 200),
    ("GET", "/static/docs/any-file"): ("/static/docs/swagger-ui.css", 200),
    # Without the sign-in form's CSRF cookie the form is refused, and shown again.
    ("POST", "/login"): ("/login", 403),
}
_PARAM = re.compile(r"\{[^}]+\}")


def _routes(routes: list) -> Iterator[tuple[str, str]]:
    """Yield (method, path) for every route, walking into included routers and mounts."""
    for route in routes:
        if hasattr(route, "effective_route_contexts"):
            yield from _routes(list(route.effective_route_contexts()))
        elif isinstance(route, Mount):
            yield ("GET", route.path + "/any-file")
        else:
            for method in route.methods - {"HEAD"}:
                yield (method, route.path)


def registered_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Return every (method, path) the app answers, sorted."""
    return sorted(set(_routes(app.routes)))


async def test_every_route_but_the_public_ones_answers_401_without_credentials(app, client):
    routes = registered_routes(app)
    assert set(routes) >= PUBLIC, "a public route was removed; drop it from PUBLIC"
    guarded = [route for route in routes if route not in PUBLIC]
    assert len(guarded) >= 6
    for method, path in guarded:
        # Dummy path parameters and a body no endpoint accepts (it even holds a NUL): the
        # guard must answer before any of them is looked at.
        url = _PARAM.sub("1", path)
        response = await client.request(method, url, json={"x": "\u0000"})
        if path.startswith("/v1/"):
            # OTLP/HTTP answers with a google.rpc.Status in the request's encoding (JSON here).
            assert response.status_code == 401, (method, path, response.text)
            assert "credentials required" in response.json()["message"]
            continue
        if not path.startswith("/api/"):
            # A dashboard page sends the browser to sign in instead.
            assert response.status_code == 303, (method, path, response.text)
            assert response.headers["location"].startswith("/login"), (method, path)
            continue
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert "credentials required" in response.json()["detail"]


async def test_public_routes_answer_without_credentials(client):
    for method, path in sorted(PUBLIC):
        url, expected = PUBLIC_EXAMPLES.get((method, path), (path, 200))
        response = await client.request(method, url)
        assert response.status_code == expected, (method, path)
