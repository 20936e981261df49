"""A NUL character in a URL is a 422 naming the parameter on every route, never a 500."""

import pytest

ROUTES = [
    "/api/executions/run%00x",
    "/api/executions?graph_id=g%00",
    "/api/analytics/jobs/j%00",
    "/api/graphs/g%00/versions/1",
    "/api/judging-rules/r%00",
    "/api/alerts?graph_id=g%00",
]


@pytest.mark.parametrize("url", ROUTES)
async def test_a_nul_in_a_path_or_query_parameter_is_a_422_naming_it(client, admin_headers, url):
    response = await client.get(url, headers=admin_headers)

    assert response.status_code == 422, response.text
    [issue] = response.json()["detail"]
    assert issue["loc"][-1] in {"execution_id", "graph_id", "job_id", "rule_id"}
    assert "NUL character" in issue["msg"]
