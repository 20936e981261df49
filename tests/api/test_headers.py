"""API responses tell browsers not to sniff their type and not to keep them."""

import pytest


@pytest.mark.parametrize(
    ("path", "authenticated", "status"),
    [
        ("/api/executions", True, 200),
        ("/api/executions?limit=0", True, 422),
        ("/api/executions/none", True, 404),
        ("/api/graphs", False, 401),
        ("/openapi.json", False, 200),
        ("/healthz", False, 200),
    ],
)
async def test_json_responses_are_nosniff_and_no_store(
    client, admin_headers, path, authenticated, status
):
    response = await client.get(path, headers=admin_headers if authenticated else {})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


async def test_static_files_may_be_cached_but_are_not_sniffed(client):
    response = await client.get("/static/app.css")
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in response.headers.get("cache-control", "")
