"""The audit log records who started, cancelled or changed what."""

import getpass

from sqlalchemy import select

from execlens.auth.models import ApiKey, ApiKeyScope
from execlens.auth.service import api_key_service, issue_token
from tests.conftest import JWT_SECRET
from tests.jobs.conftest import api, fake_llm, jobs_settings, judge_settings, run, store  # noqa: F401

JOBS = "/api/analytics/jobs"


async def test_job_actions_are_audited_with_who_and_on_whose_behalf(database, api):  # noqa: F811
    await store(database, [run(1)])
    created = await api.post(
        JOBS, json={"graph_id": "g-blog"}, headers={"X-Act-As-User-Id": "user-42"}
    )
    job_id = created.json()["job_id"]
    await api.post(f"{JOBS}/{job_id}/cancel")
    await api.post(f"{JOBS}/{job_id}/resume", json={"max_cost_usd": 2.5})

    events = (await api.get("/api/audit")).json()["items"]

    assert [e["action"] for e in events] == [
        "analytics_job.resumed",
        "analytics_job.cancelled",
        "analytics_job.created",
    ]
    assert {e["target_id"] for e in events} == {job_id}
    assert {e["actor"] for e in events} == {"jwt:local-admin"}
    created_event = events[-1]
    assert created_event["acting_as"] == "user-42"
    assert created_event["details"]["graph_id"] == "g-blog"
    assert events[0]["details"] == {"max_cost_usd": 2.5}
    only_cancels = await api.get("/api/audit", params={"action": "analytics_job.cancelled"})
    assert [e["action"] for e in only_cancels.json()["items"]] == ["analytics_job.cancelled"]


async def test_a_refused_request_leaves_no_audit_event(database, api):  # noqa: F811
    await api.post(JOBS, json={"graph_id": "g-blog", "concurrency": 0})
    await api.post(f"{JOBS}/missing/cancel")

    assert (await api.get("/api/audit")).json()["items"] == []


async def test_api_key_changes_from_the_cli_are_audited(database, cli, api):  # noqa: F811
    created = await cli("apikey", "create", "--name", "ingest-bot", "--scope", "ingest")
    assert created.exit_code == 0, created.output
    async with database.read() as session:
        key_id = (await session.scalars(select(ApiKey.id))).one()
    revoked = await cli("apikey", "revoke", key_id[:8])
    assert revoked.exit_code == 0, revoked.output

    events = (await api.get("/api/audit")).json()["items"]

    assert [e["action"] for e in events] == ["api_key.revoked", "api_key.created"]
    assert {e["actor"] for e in events} == {f"cli:{getpass.getuser()}"}
    assert events[1]["details"] == {"name": "ingest-bot", "scope": "ingest"}
    # The key itself is never part of the log.
    assert "exl_" not in str(events)


async def test_only_admins_read_the_audit_log(client, database, admin_headers):
    async with database.write() as session:
        _, ingest_key = await api_key_service.create(
            session, name="ingest", scope=ApiKeyScope.INGEST, actor="test"
        )
    user_token = issue_token(JWT_SECRET, subject="user-7", role="authenticated")

    as_ingest_key = await client.get("/api/audit", headers={"X-API-Key": ingest_key})
    as_user = await client.get("/api/audit", headers={"Authorization": f"Bearer {user_token}"})
    as_admin = await client.get("/api/audit", headers=admin_headers)

    assert (as_ingest_key.status_code, as_user.status_code) == (403, 403)
    assert as_ingest_key.json()["detail"] == "admin role required"
    assert as_admin.status_code == 200
    documented = (await client.get("/openapi.json", headers=admin_headers)).json()
    operation = documented["paths"]["/api/audit"]["get"]
    assert {"401", "403"} <= set(operation["responses"])
    assert operation["security"]
