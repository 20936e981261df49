"""execlens's answers on AutoGPT's three routes, validated against upstream's own OpenAPI.

`autogpt-analytics-openapi.json` is the structure of upstream's three operations
(operation ids, tags, parameters, schemas). schemathesis validates each live response
against it: status code documented, body matching the schema of that status.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

from execlens.app import create_app
from execlens.auth.service import issue_token
from execlens.config import Settings
from tests.conftest import JWT_SECRET
from tests.jobs.conftest import answer, run, store
from tests.trends.conftest import Run, store_runs

SPEC_PATH = Path(__file__).with_name("autogpt-analytics-openapi.json")
SPEC = schemathesis.openapi.from_path(SPEC_PATH)
# Upstream's own server breaks its spec's `date-time` format: its trend days come from SQL
# DATE() and are sent without an offset ("2026-11-27T00:00:00"), which RFC 3339 refuses.
# execlens sends the same, so formats are not checked; every other keyword is.
SPEC.config.checks.response_schema_conformance.validate_formats = False
CONFIG = "/api/executions/admin/execution_analytics/config"
ANALYTICS = "/api/executions/admin/execution_analytics"
TRENDS = "/api/executions/admin/execution_accuracy_trends"
FUZZ = settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def conforms(path: str, method: str, response) -> None:
    """Fail unless the response is one upstream documents for this operation."""
    SPEC[path][method].validate_response(response)


@pytest.fixture
def upstream_spec() -> dict:
    return SPEC.raw_schema


def test_operation_ids_tags_and_summaries_are_upstreams(app, upstream_spec):
    ours = app.openapi()["paths"]
    for path, operations in upstream_spec["paths"].items():
        for method, upstream in operations.items():
            mine = ours[path][method]
            assert mine["operationId"] == upstream["operationId"], (method, path)
            assert mine["tags"] == upstream["tags"], (method, path)
            assert mine["summary"] == upstream["summary"], (method, path)


async def test_config_conforms(api):
    response = await api.get(CONFIG)

    assert response.status_code == 200
    conforms(CONFIG, "GET", response)


async def test_analytics_report_conforms(database, api, fake_llm):
    scored = {"activity_status": "Wrote it.", "correctness_score": 0.9}
    await store(database, [run(1), run(2, stats=scored)])
    fake_llm.default = answer("Wrote the post.", 0.8)

    response = await api.post(ANALYTICS, json={"graph_id": "g-blog", "batch_size": 2})

    assert response.status_code == 200
    assert {r["status"] for r in response.json()["results"]} == {"success", "skipped"}
    conforms(ANALYTICS, "POST", response)


async def test_analytics_for_a_graph_without_runs_conforms(database, api, fake_llm):
    response = await api.post(ANALYTICS, json={"graph_id": "g-none"})

    assert response.status_code == 200
    assert response.json()["total_executions"] == 0
    conforms(ANALYTICS, "POST", response)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"graph_id": "g-blog", "batch_size": 26},
        {"graph_id": "g-blog", "model_name": "no-such-model"},
        {"graph_id": "g-blog", "user_prompt": "no placeholder"},
    ],
)
async def test_analytics_validation_errors_conform(database, api, fake_llm, body):
    response = await api.post(ANALYTICS, json=body)

    assert response.status_code == 422
    conforms(ANALYTICS, "POST", response)


async def test_no_provider_configured_conforms(settings, admin_headers, database):
    # No provider key, no compatible server, the local model turned off.
    await store(database, [run(1)])
    bare = settings.model_copy(update={"local_model_enabled": False})
    transport = httpx2.ASGITransport(app=create_app(bare, database=database, migrate=False))
    async with httpx2.AsyncClient(transport=transport, base_url="http://t") as client:
        config = await client.get(CONFIG, headers=admin_headers)
        response = await client.post(ANALYTICS, json={"graph_id": "g-blog"}, headers=admin_headers)

    conforms(CONFIG, "GET", config)
    assert config.json()["available_models"] == []
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "model_name"]
    conforms(ANALYTICS, "POST", response)


@pytest.mark.parametrize("graph_id", ["g-blog", "g-none"])
@pytest.mark.parametrize("include_historical", ["true", "false"])
async def test_trends_conform(client, admin_headers, database, graph_id, include_historical):
    today = datetime.now(UTC).date()
    runs = [Run(today - timedelta(days=o), 0.9 if o > 2 else 0.3) for o in range(10)]
    await store_runs(database, runs)
    params = {"graph_id": graph_id, "include_historical": include_historical}

    response = await client.get(TRENDS, params=params, headers=admin_headers)

    assert response.status_code == 200
    assert (response.json()["alert"] is None) == (graph_id == "g-none")
    conforms(TRENDS, "GET", response)


@pytest.mark.parametrize("params", [{}, {"graph_id": "g", "days_back": "x"}])
async def test_trends_validation_errors_conform(client, admin_headers, database, params):
    response = await client.get(TRENDS, params=params, headers=admin_headers)

    assert response.status_code == 422
    conforms(TRENDS, "GET", response)


@pytest.mark.parametrize("path", [CONFIG, TRENDS])
async def test_anonymous_callers_get_upstreams_401(client, database, path):
    response = await client.get(path, params={"graph_id": "g"})

    assert response.status_code == 401
    conforms(path, "GET", response)


def test_requests_generated_from_upstreams_spec_get_conforming_answers(tmp_path) -> None:
    # Whatever upstream's spec allows a client to send, execlens answers with a status
    # and body upstream documents, and never a server error. No provider is configured,
    # so a generated POST ends in the documented 422.
    app = create_app(
        Settings(
            data_dir=tmp_path,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'execlens.db'}",
            jwt_secret=JWT_SECRET,
            local_model_enabled=False,
            rate_limit_per_minute=0,
        )
    )
    schema = schemathesis.openapi.from_path(SPEC_PATH)
    schema.app = app
    schema.config.checks.response_schema_conformance.validate_formats = False
    # Some values upstream's spec allows get a 422 on purpose (README, "Run beside
    # AutoGPT"): an empty graph_id, days_back outside 1-365, a drop_threshold outside
    # (0, 100], unknown models, prompts without {{EXECUTION_DATA}}.
    schema.config.checks.update(excluded_check_names=["positive_data_acceptance"])
    admin = {"Authorization": f"Bearer {issue_token(JWT_SECRET)}"}

    def check(case: schemathesis.Case) -> None:
        response = case.call(headers=admin)
        assert response.status_code in (200, 422), (case.path, response.status_code)
        case.validate_response(response)

    with TestClient(app):  # runs the lifespan: the database is opened and migrated
        for result in schema.get_all_operations():
            operation = result.ok()
            FUZZ(
                given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))(check)
            )()
