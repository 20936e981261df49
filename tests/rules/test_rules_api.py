"""Judging rules over REST and the CLI: audited changes, and bad input refused whole."""

import httpx2
import pytest
from sqlalchemy import func, select

from execlens.db.engine import Database
from execlens.errors import UserError
from execlens.rules.models import JudgingRule
from execlens.rules.schemas import RuleCreate
from execlens.rules.service import rule_service
from tests.judge.conftest import OPENAI_KEY

RULES = "/api/judging-rules"


async def _count(database: Database) -> int:
    async with database.read() as session:
        return await session.scalar(select(func.count()).select_from(JudgingRule)) or 0


async def test_rule_changes_are_audited_and_listed_with_health(api: httpx2.AsyncClient):
    created = await api.post(
        RULES,
        json={"graph_id": "g-blog", "sample_rate": 0.2, "daily_budget_usd": 5},
        headers={"X-Act-As-User-Id": "user-7"},
    )
    rule_id = created.json()["id"]
    await api.patch(f"{RULES}/{rule_id}", json={"sample_rate": 0.5})
    listed = (await api.get(RULES)).json()["rules"]
    deleted = await api.delete(f"{RULES}/{rule_id}")
    gone = await api.get(f"{RULES}/{rule_id}")
    events = (await api.get("/api/audit")).json()["items"]

    assert created.status_code == 201
    assert created.headers["location"] == f"{RULES}/{rule_id}"
    assert created.json()["model"] == "gpt-4.1-mini"
    assert [(r["id"], r["sample_rate"]) for r in listed] == [(rule_id, 0.5)]
    assert listed[0]["health"] == {
        "spent_today_usd": 0.0,
        "budget_exhausted": False,
        "backlog": 0,
        "judged_last_hour": 0,
        "failed_last_hour": 0,
        "lag_p50_seconds": None,
        "lag_p95_seconds": None,
        "open_job_id": None,
    }
    assert (deleted.status_code, gone.status_code) == (204, 404)
    assert [e["action"] for e in events] == [
        "judging_rule.deleted",
        "judging_rule.updated",
        "judging_rule.created",
    ]
    assert events[-1]["acting_as"] == "user-7"
    assert events[-1]["details"]["sample_rate"] == 0.2


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"sample_rate": 1.5}, "sample_rate", "less than or equal to 1"),
        ({"sample_rate": -0.1}, "sample_rate", "greater than or equal to 0"),
        ({"statuses": ["RUNNING"]}, "statuses", "COMPLETED"),
        ({"statuses": []}, "statuses", "at least 1"),
        ({"daily_budget_usd": 0}, "daily_budget_usd", "greater than 0"),
        ({"model_name": "gpt-99"}, "model_name", "is not available"),
        ({"sample_rat": 0.2}, "sample_rat", "Extra inputs"),
        ({"graph_id": ""}, "graph_id", "at least 1"),
    ],
)
async def test_bad_rules_are_refused_and_nothing_is_stored(
    api: httpx2.AsyncClient, database: Database, body: dict, field: str, words: str
):
    response = await api.post(RULES, json=body)

    assert response.status_code == 422, response.text
    assert field in response.text and words in response.text
    assert await _count(database) == 0
    assert (await api.get("/api/audit")).json()["items"] == []


@pytest.mark.parametrize("field", ["name", "statuses", "sample_rate", "paused"])
async def test_a_change_that_nulls_a_required_field_is_refused_and_changes_nothing(
    api: httpx2.AsyncClient, field: str
):
    rule = (await api.post(RULES, json={"graph_id": "g-blog", "sample_rate": 0.5})).json()

    response = await api.patch(f"{RULES}/{rule['id']}", json={field: None, "daily_budget_usd": 3})

    assert response.status_code == 422, response.text
    assert field in response.text and "cannot be null" in response.text
    kept = (await api.get(f"{RULES}/{rule['id']}")).json()
    assert (kept["sample_rate"], kept["paused"], kept["daily_budget_usd"]) == (0.5, False, None)


async def test_a_budget_needs_a_model_with_a_known_price(database: Database, jobs_settings):
    # A model of the admin's own OpenAI-compatible server has no price in the catalog.
    settings = jobs_settings.model_copy(
        update={"compatible_base_url": "http://127.0.0.1:9/v1", "compatible_models": "my-llama"}
    )
    params = RuleCreate(model_name="my-llama", daily_budget_usd=1)
    with pytest.raises(UserError, match="the price of model 'my-llama' is unknown") as refused:
        async with database.write() as session:
            await rule_service.create(session, settings, params, actor="test")
    async with database.write() as session:
        allowed = await rule_service.create(
            session, settings, RuleCreate(model_name="my-llama"), actor="test"
        )

    assert refused.value.field == "daily_budget_usd"
    assert allowed.model == "my-llama"
    assert await _count(database) == 1


async def test_changing_or_deleting_a_missing_rule_is_404(api: httpx2.AsyncClient):
    patched = await api.patch(f"{RULES}/missing", json={"paused": True})
    deleted = await api.delete(f"{RULES}/missing")
    assert (patched.status_code, deleted.status_code) == (404, 404)
    assert "no judging rule with id 'missing'" in patched.text


async def test_rules_from_the_command_line(cli, database: Database):
    env = {"OPENAI_API_KEY": OPENAI_KEY, "EXECLENS_LOCAL_MODEL_ENABLED": "false"}
    added = await cli(
        "rules", "add", "--graph-id", "g-blog", "--sample-rate", "0.2",
        "--model", "gpt-4.1-mini", "--daily-budget", "5", extra_env=env,
    )  # fmt: skip
    bad = await cli("rules", "add", "--sample-rate", "2", extra_env=env)
    listed = await cli("rules", "list", extra_env=env)
    rule_id = added.stdout.split()[1]
    removed = await cli("rules", "remove", rule_id, extra_env=env)
    missing = await cli("rules", "remove", rule_id, extra_env=env)

    assert added.exit_code == 0, added.output
    assert "judged by gpt-4.1-mini" in added.stdout
    assert bad.exit_code == 1
    assert bad.output.strip() == "error: sample-rate: Input should be less than or equal to 1"
    assert listed.exit_code == 0
    assert rule_id[:8] in listed.stdout and "$5.00" in listed.stdout and "20%" in listed.stdout
    assert removed.exit_code == 0
    assert missing.exit_code == 1
    assert f"no judging rule with id '{rule_id}'" in missing.output
    assert await _count(database) == 0
