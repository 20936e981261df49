"""The monitor against a real HTTP receiver: one alert per drop, every channel, failures."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from execlens.app import create_app
from execlens.trends.monitor import Monitor
from execlens.trends.notify import Notifier, channels_from_settings
from tests.trends.conftest import NOW, drop, runs_for, store_runs
from tests.trends.webhook_receiver import WebhookReceiver

NAME = "Inbox triage"
LINK = "https://execlens.example/trends?graph_id=g-blog"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


def alert_settings(settings, receiver, *, hooks=("hook", "broken"), **update):
    urls = ",".join(receiver.url(h) for h in hooks)
    return settings.model_copy(
        update={
            "public_url": "https://execlens.example",
            "alert_webhook_urls": SecretStr(urls) if urls else None,
            "alert_slack_webhook_url": SecretStr(receiver.url("slack")),
            "alert_discord_webhook_url": SecretStr(receiver.url("discord")),
            "alert_timeout_seconds": 2.0,
        }
        | update
    )


def monitor(database, settings, *, retries=1, timeout=2.0) -> Monitor:
    notifier = Notifier(
        channels_from_settings(settings),
        timeout_seconds=timeout,
        max_retries=retries,
        backoff_seconds=0.01,
    )
    return Monitor(database, settings, notifier=notifier)


async def test_one_message_per_drop_on_every_channel_despite_a_failing_one(
    database, settings, receiver, client, admin_headers
):
    await store_runs(database, runs_for(drop()), name=NAME)
    watcher = monitor(database, alert_settings(settings, receiver))
    [check] = await watcher.check_once(now=NOW)
    assert check.action == "opened"
    outcomes = sorted((d.channel, d.ok, d.attempts, d.error) for d in check.deliveries)
    assert outcomes == [
        ("discord (127.0.0.1)", True, 1, None),
        ("slack (127.0.0.1)", True, 1, None),
        ("webhook (127.0.0.1)", False, 2, "HTTP 500"),
        ("webhook (127.0.0.1)", True, 1, None),
    ]
    assert len(receiver.bodies("broken")) == 2  # the first try and one retry

    [generic] = receiver.bodies("hook")
    assert generic["event"] == "accuracy_alert.opened"
    assert generic["alert"]["graph_name"] == NAME
    assert generic["alert"]["three_day_avg"] == pytest.approx(45)
    assert generic["alert"]["seven_day_avg"] == pytest.approx(495 / 7)
    assert generic["alert"]["drop_percent"] == pytest.approx(180 / 495 * 100)
    assert generic["alert"]["dashboard_url"] == LINK
    [slack] = receiver.bodies("slack")
    expected = "3-day average 45.0 is 36.4% below the 7-day average 70.7 (alert threshold 10%)."
    assert slack["text"] == f"Accuracy drop: {NAME}. {expected} {LINK}"
    assert slack["blocks"][0]["text"]["text"] == f"*<{LINK}|Accuracy drop: {NAME}>*\n{expected}"
    [discord] = receiver.bodies("discord")
    assert discord["embeds"][0]["url"] == LINK
    assert discord["embeds"][0]["description"] == expected
    assert discord["allowed_mentions"] == {"parse": []}

    # The drop lasts: no second message within the cooldown.
    [again] = await watcher.check_once(now=NOW + timedelta(hours=1))
    assert again.action == "still_open" and again.deliveries == []
    assert len(receiver.bodies("hook")) == 1

    response = await client.get("/api/alerts", params={"state": "open"}, headers=admin_headers)
    [alert] = response.json()["items"]
    assert (alert["graph_id"], alert["graph_name"], alert["user_id"]) == ("g-blog", NAME, None)
    assert alert["notifications"] == 1
    # The app under test has no EXECLENS_PUBLIC_URL: links go to where it serves.
    assert alert["dashboard_url"] == "http://127.0.0.1:8321/trends?graph_id=g-blog"
    assert alert["delivery_error"] == "webhook (127.0.0.1): HTTP 500"
    assert alert["detected_at"] == "2026-11-20T12:00:00Z"


async def test_renotifies_after_the_cooldown_and_after_recovery_and_a_new_drop(
    database, settings, receiver, client, admin_headers
):
    await store_runs(database, runs_for(drop()), name=NAME)
    watcher = monitor(database, alert_settings(settings, receiver, hooks=("hook",)))
    await watcher.check_once(now=NOW)
    [reminder] = await watcher.check_once(now=NOW + timedelta(hours=25))
    assert reminder.action == "renotify"
    assert [b["event"] for b in receiver.bodies("hook")] == [
        "accuracy_alert.opened",
        "accuracy_alert.reminder",
    ]
    assert receiver.bodies("slack")[-1]["text"].startswith(f"Still dropping: {NAME}.")

    # Three good days later the agent has recovered: the alert resolves, nobody is paged.
    await store_runs(database, runs_for({-d: [1.0] * 3 for d in (1, 2, 3)}))
    [recovered] = await watcher.check_once(now=NOW + timedelta(days=3))
    assert recovered.action == "resolved" and recovered.deliveries == []
    # Then it drops again: a new alert, a new message.
    await store_runs(database, runs_for({-d: [0.3] * 3 for d in (4, 5, 6)}))
    [dropped] = await watcher.check_once(now=NOW + timedelta(days=6))
    assert dropped.action == "opened"
    assert len(receiver.bodies("hook")) == 3

    listed = await client.get("/api/alerts", headers=admin_headers)
    assert [a["state"] for a in listed.json()["items"]] == ["open", "resolved"]
    resolved = await client.get("/api/alerts?state=resolved", headers=admin_headers)
    [old] = resolved.json()["items"]
    assert old["resolved_at"] == "2026-11-23T12:00:00Z"
    assert old["notifications"] == 2
    bad = await client.get("/api/alerts?state=closed", headers=admin_headers)
    assert bad.status_code == 422
    assert bad.json()["message"] == "state: Input should be 'open' or 'resolved'"


async def test_a_slow_channel_times_out_and_the_others_still_get_the_message(
    database, settings, receiver
):
    await store_runs(database, runs_for(drop()), name=NAME)
    configured = alert_settings(settings, receiver, hooks=("slow", "hook"))
    # 1.5 s: far below the slow channel's 3 s, and slack enough that a loaded machine
    # does not time out the healthy channels too.
    [check] = await monitor(database, configured, retries=0, timeout=1.5).check_once(now=NOW)
    errors = sorted(d.error or "ok" for d in check.deliveries)
    assert errors == ["no answer within 1.5 s", "ok", "ok", "ok"]


async def test_without_channels_alerts_are_still_stored(database, settings):
    await store_runs(database, runs_for(drop()), name=NAME)
    watcher = Monitor(database, settings)
    [opened] = await watcher.check_once(now=NOW)
    assert (opened.action, opened.deliveries) == ("opened", [])
    [again] = await watcher.check_once(now=NOW + timedelta(days=2))
    assert again.action == "still_open"


async def test_two_monitors_at_once_open_one_alert_and_send_one_message(
    database, settings, receiver, client, admin_headers
):
    await store_runs(database, runs_for(drop()), name=NAME)
    configured = alert_settings(settings, receiver, hooks=("hook",))
    first, second = monitor(database, configured), monitor(database, configured)
    await asyncio.gather(first.check_once(now=NOW), second.check_once(now=NOW))
    assert len(receiver.bodies("hook")) == 1
    listed = await client.get("/api/alerts", headers=admin_headers)
    assert len(listed.json()["items"]) == 1


async def test_quiet_graphs_and_graphs_with_too_few_runs_are_not_checked(database, settings):
    await store_runs(database, runs_for({0: [0.5] * 9}, graph_id="g-few"))
    await store_runs(database, runs_for(drop()), name=NAME)
    checks = await Monitor(database, settings).check_once(now=NOW)
    assert [c.graph_id for c in checks] == ["g-blog"]


async def test_serve_runs_the_monitor_when_enabled(database, settings, receiver):
    today = datetime.now(UTC)
    days_ago = (NOW.date() - today.date()).days
    await store_runs(database, runs_for(drop(days_ago)), name=NAME)
    configured = alert_settings(
        settings, receiver, hooks=("hook",), monitor_in_serve=True, monitor_interval=timedelta(1)
    )
    app = create_app(configured, database=database, migrate=False)
    async with app.router.lifespan_context(app):
        for _ in range(100):
            if receiver.bodies("hook"):
                break
            await asyncio.sleep(0.05)
    assert receiver.bodies("hook")[0]["alert"]["graph_name"] == NAME
