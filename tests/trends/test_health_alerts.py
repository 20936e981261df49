"""Evaluator-health alerts: stuck or failing judging, each kind once, reminded, resolved."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx2
import pytest

from execlens.config import Settings
from execlens.db.engine import Database
from execlens.jobs.models import JobStatus
from execlens.rules.service import rule_service
from tests.fake_llm import FakeLLM, Reply
from tests.jobs.conftest import answer, run, run_id_of, store, wait_for
from tests.trends.test_monitor import alert_settings, monitor
from tests.trends.webhook_receiver import WebhookReceiver

JOBS = "/api/analytics/jobs"
MINUTE = timedelta(minutes=1)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


async def _add_rule(api: httpx2.AsyncClient, name: str, **fields: object) -> str:
    body = {"graph_id": "g-blog", "name": name, **fields}
    response = await api.post("/api/judging-rules", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _start_job(api: httpx2.AsyncClient) -> str:
    response = await api.post(JOBS, json={"graph_id": "g-blog"})
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


async def test_rule_backlog_opens_once_reminds_after_the_cooldown_and_resolves_when_paused(
    api: httpx2.AsyncClient,
    database: Database,
    jobs_settings: Settings,
    receiver: WebhookReceiver,
):
    rule_id = await _add_rule(api, "new blog posts")
    await store(database, [run(n) for n in range(1, 4)])
    assert await rule_service.run_all(database, jobs_settings) == 3
    start = datetime.now(UTC)
    watcher = monitor(database, alert_settings(jobs_settings, receiver, hooks=("hook",)))

    assert await watcher.check_health(now=start + 10 * MINUTE) == []
    [opened] = await watcher.check_health(now=start + 31 * MINUTE)

    assert (opened.kind, opened.scope, opened.action) == ("rule_backlog", rule_id, "opened")
    [body] = receiver.bodies("hook")
    assert body["event"] == "health_alert.opened"
    alert = body["alert"]
    assert (alert["kind"], alert["scope"], alert["subject"]) == (
        "rule_backlog",
        rule_id,
        "new blog posts",
    )
    assert alert["numbers"]["waiting"] == 3 and alert["numbers"]["backlog"] == 3
    assert alert["threshold"] == 30
    assert alert["dashboard_url"] == "https://execlens.example/rules"
    [slack] = receiver.bodies("slack")
    assert slack["text"].startswith(
        "Judging backlog: new blog posts. 3 picked runs have waited more than 30 min for a verdict"
    )
    [discord] = receiver.bodies("discord")
    fields = {f["name"]: f["value"] for f in discord["embeds"][0]["fields"]}
    assert fields["waiting"] == "3"

    [again] = await watcher.check_health(now=start + 40 * MINUTE)
    assert (again.action, again.deliveries) == ("still_open", [])
    [reminder] = await watcher.check_health(now=start + 31 * MINUTE + timedelta(hours=24))
    assert reminder.action == "renotify"
    assert [b["event"] for b in receiver.bodies("hook")] == [
        "health_alert.opened",
        "health_alert.reminder",
    ]
    assert receiver.bodies("slack")[-1]["text"].startswith("Still: Judging backlog: new blog")

    # A paused rule is not expected to judge: its backlog is no longer an alert.
    paused = await api.patch(f"/api/judging-rules/{rule_id}", json={"paused": True})
    assert paused.status_code == 200, paused.text
    [resolved] = await watcher.check_health(now=start + timedelta(hours=26))
    assert (resolved.action, resolved.deliveries) == ("resolved", [])
    assert len(receiver.bodies("hook")) == 2
    assert await watcher.check_health(now=start + timedelta(hours=27)) == []

    listed = (await api.get("/api/health-alerts")).json()["items"]
    [stored] = listed
    assert (stored["kind"], stored["state"], stored["notifications"]) == (
        "rule_backlog",
        "resolved",
        2,
    )
    assert stored["message"].startswith("3 picked runs have waited more than 30 min")
    assert stored["delivery_error"] is None
    assert (await api.get("/api/health-alerts?state=open")).json()["items"] == []


async def test_failing_verdicts_alert_per_rule_for_an_hour_and_per_agent_for_a_day(
    api: httpx2.AsyncClient,
    database: Database,
    jobs_settings: Settings,
    fake_llm: FakeLLM,
    worker: object,
    receiver: WebhookReceiver,
):
    fake_llm.default = Reply("not json at all")
    rule_id = await _add_rule(api, "new blog posts")
    await store(database, [run(n) for n in range(1, 7)])
    await rule_service.run_all(database, jobs_settings)
    job_id = (await api.get(JOBS)).json()["items"][0]["id"]
    await wait_for(database, job_id, lambda job: job.failed == 6)
    configured = alert_settings(jobs_settings, receiver, hooks=("hook",), monitor_judge_failures=5)
    watcher = monitor(database, configured)
    now = datetime.now(UTC)

    checks = await watcher.check_health(now=now)

    assert sorted((c.kind, c.scope, c.action) for c in checks) == [
        ("judge_failures", "g-blog", "opened"),
        ("rule_failures", rule_id, "opened"),
    ]
    bodies = {b["alert"]["kind"]: b["alert"] for b in receiver.bodies("hook")}
    assert bodies["rule_failures"]["numbers"] == {
        "failed": 6,
        "finished": 6,
        "min_failed": 5,
        "min_share": 0.5,
    }
    assert bodies["judge_failures"]["subject"] == "Blog writer"
    assert bodies["judge_failures"]["numbers"] == {"failed": 6, "threshold": 5}
    texts = sorted(b["text"] for b in receiver.bodies("slack"))
    assert texts[0].startswith(
        "Judge failures: Blog writer. 6 judgments of this agent's runs failed in the last 24 h"
    )
    assert texts[1].startswith("Judging rule failing: new blog posts. 6 of its 6 verdicts")

    # An hour on, the rule's failures are old news; the agent's day still holds them.
    later = await watcher.check_health(now=now + timedelta(hours=2))
    assert sorted((c.kind, c.action) for c in later) == [
        ("judge_failures", "still_open"),
        ("rule_failures", "resolved"),
    ]
    [last] = await watcher.check_health(now=now + timedelta(hours=25))
    assert (last.kind, last.action) == ("judge_failures", "resolved")
    assert len(receiver.bodies("hook")) == 2


async def test_a_minority_of_failures_is_no_rule_alert_but_counts_for_the_agent(
    api: httpx2.AsyncClient,
    database: Database,
    jobs_settings: Settings,
    fake_llm: FakeLLM,
    worker: object,
    receiver: WebhookReceiver,
):
    failing = {f"run-{n:03d}" for n in range(1, 6)}
    fake_llm.policy = lambda body: (
        Reply("not json at all") if run_id_of(body) in failing else answer()
    )
    await _add_rule(api, "new blog posts")
    await store(database, [run(n) for n in range(1, 12)])
    await rule_service.run_all(database, jobs_settings)
    job_id = (await api.get(JOBS)).json()["items"][0]["id"]
    await wait_for(database, job_id, lambda job: job.done_count == 11)
    assert (await api.get(f"{JOBS}/{job_id}")).json()["failed"] == 5
    now = datetime.now(UTC)

    # 5 of 11 failed: the minimum count, but under half; and not more than 10 for the agent.
    quiet = monitor(database, alert_settings(jobs_settings, receiver, hooks=("hook",)))
    assert await quiet.check_health(now=now) == []
    stricter = alert_settings(jobs_settings, receiver, hooks=("hook",), monitor_judge_failures=4)
    [check] = await monitor(database, stricter).check_health(now=now)
    assert (check.kind, check.action) == ("judge_failures", "opened")


async def test_a_rule_whose_budget_is_spent_has_no_backlog_alert_until_it_has_budget(
    api: httpx2.AsyncClient,
    database: Database,
    jobs_settings: Settings,
    worker: object,
    receiver: WebhookReceiver,
):
    # About $0.00023 a verdict: the budget pays for two; calls already under way finish.
    rule_id = await _add_rule(api, "new blog posts", daily_budget_usd=0.0005)
    await store(database, [run(n) for n in range(1, 31)])
    await rule_service.run_all(database, jobs_settings)
    job_id = (await api.get(JOBS)).json()["items"][0]["id"]
    job = await wait_for(database, job_id, lambda job: job.status == JobStatus.PAUSED)
    assert job.done_count < 30
    # The calls under way when it paused are recorded, and the spend passes the budget.
    for _ in range(400):
        health = (await api.get(f"/api/judging-rules/{rule_id}")).json()["health"]
        if health["budget_exhausted"]:
            break
        await asyncio.sleep(0.05)
    assert health["budget_exhausted"] and health["backlog"] > 0
    configured = alert_settings(
        jobs_settings, receiver, hooks=("hook",), monitor_backlog_minutes=0.001
    )
    watcher = monitor(database, configured)

    assert await watcher.check_health() == []
    raised = await api.patch(f"/api/judging-rules/{rule_id}", json={"daily_budget_usd": 1.0})
    assert raised.status_code == 200, raised.text
    [check] = await watcher.check_health()
    assert (check.kind, check.scope, check.action) == ("rule_backlog", rule_id, "opened")
    assert check.finding is not None
    assert 0 < check.finding.numbers["waiting"] <= 30 - job.done_count


async def test_a_backfill_job_that_judges_nothing_alerts_until_it_ends(
    api: httpx2.AsyncClient,
    database: Database,
    jobs_settings: Settings,
    receiver: WebhookReceiver,
):
    await store(database, [run(1), run(2)])
    job_id = await _start_job(api)  # no worker runs: nothing will judge it
    now = datetime.now(UTC)
    watcher = monitor(database, alert_settings(jobs_settings, receiver, hooks=("hook",)))

    assert await watcher.check_health(now=now + 10 * MINUTE) == []
    [stalled] = await watcher.check_health(now=now + 31 * MINUTE)

    assert (stalled.kind, stalled.scope, stalled.action) == ("job_stalled", job_id, "opened")
    [body] = receiver.bodies("hook")
    assert body["alert"]["subject"] == f"job {job_id[:8]} of Blog writer"
    assert body["alert"]["dashboard_url"] == f"https://execlens.example/jobs/{job_id}"
    assert body["text"].startswith(
        f"Job stalled: job {job_id[:8]} of Blog writer. The job has judged nothing for 31 min"
    )

    cancelled = await api.post(f"{JOBS}/{job_id}/cancel")
    assert cancelled.json()["status"] == JobStatus.CANCELLED
    [resolved] = await watcher.check_health(now=now + 32 * MINUTE)
    assert resolved.action == "resolved"
    [stored] = (await api.get("/api/health-alerts?kind=job_stalled")).json()["items"]
    assert stored["state"] == "resolved"
    assert stored["resolved_at"] is not None


async def test_two_monitors_at_once_open_one_health_alert_and_send_one_message(
    api: httpx2.AsyncClient,
    database: Database,
    jobs_settings: Settings,
    receiver: WebhookReceiver,
):
    await store(database, [run(1)])
    await _start_job(api)
    configured = alert_settings(jobs_settings, receiver, hooks=("hook",))
    first, second = monitor(database, configured), monitor(database, configured)
    later = datetime.now(UTC) + timedelta(hours=1)

    both = await asyncio.gather(first.check_health(now=later), second.check_health(now=later))

    assert sorted(check.action for checks in both for check in checks) == ["opened", "still_open"]
    assert len(receiver.bodies("hook")) == 1
    listed = (await api.get("/api/health-alerts")).json()["items"]
    assert [a["kind"] for a in listed] == ["job_stalled"]


async def test_health_alerts_bad_filters_are_422_naming_the_field(api: httpx2.AsyncClient):
    bad = await api.get("/api/health-alerts?kind=slow")
    assert bad.status_code == 422
    assert bad.json()["message"].startswith("kind: Input should be 'rule_backlog'")
    state = await api.get("/api/health-alerts?state=closed")
    assert state.json()["message"] == "state: Input should be 'open' or 'resolved'"


async def test_monitor_once_prints_health_alerts(cli, api, database, receiver):
    await store(database, [run(1)])
    job_id = await _start_job(api)
    await asyncio.sleep(0.2)
    env = {
        "EXECLENS_ALERT_WEBHOOK_URLS": receiver.url("hook"),
        "EXECLENS_MONITOR_BACKLOG_MINUTES": "0.001",
    }

    result = await cli("monitor", "--once", extra_env=env)

    assert result.exit_code == 0, result.output
    assert "evaluator health: 1 problems" in result.stdout
    assert f"job_stalled job {job_id[:8]} of Blog writer: opened; The job has judged" in (
        result.stdout
    )
    assert "webhook (127.0.0.1) sent" in result.stdout
    assert [b["event"] for b in receiver.bodies("hook")] == ["health_alert.opened"]


@pytest.mark.parametrize("value", ["0", "-5", "soon"])
async def test_monitor_bad_health_threshold_is_a_one_line_error(cli, database, value):
    env = {"EXECLENS_MONITOR_BACKLOG_MINUTES": value}
    result = await cli("monitor", "--once", extra_env=env)
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert "EXECLENS_MONITOR_BACKLOG_MINUTES" in line
