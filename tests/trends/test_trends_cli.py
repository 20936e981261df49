"""`execlens trends`, `execlens monitor`, and the trends the demo ends with."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.trends.conftest import NOW, drop, runs_for, store_runs
from tests.trends.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


async def store_recent_drop(database) -> None:
    """Seven days at 0.9 then three at 0.45, ending today by the real clock."""
    shift = (NOW.date() - datetime.now(UTC).date()).days
    await store_runs(database, runs_for(drop(shift)), name="Inbox triage")


async def test_trends_prints_latest_values_table_and_alert(cli, database):
    await store_recent_drop(database)
    result = await cli("trends", "--graph-id", "g-blog", "--days-back", "14")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Inbox triage (g-blog): calendar windows, last 14 UTC days" in out
    assert "daily 45.0, 3-day 45.0, 7-day 70.7, 14-day 76.5 (3 of 3 runs scored)" in out
    assert out.count("███") >= 10  # one bar per day
    assert "ALERT Inbox triage: 3-day average 45.0 is 36.4% below the 7-day average 70.7" in out

    rows = await cli("trends", "--graph-id", "g-blog", "--window", "rows", "--threshold", "50")
    assert rows.exit_code == 0, rows.output
    assert "no alert for Inbox triage: drop 36.4%" in rows.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days-back", "0"], "error: --days-back: Input should be greater than or equal to 1"),
        (["--threshold", "0"], "error: --threshold: Input should be greater than 0"),
        (["--window", "weeks"], "error: --window: Input should be 'calendar' or 'rows'"),
    ],
)
async def test_trends_bad_options_are_one_line_errors(cli, database, args, message):
    result = await cli("trends", "--graph-id", "g-blog", *args)
    assert result.exit_code == 1
    assert result.stderr.strip() == message


async def test_monitor_once_notifies_and_reports(cli, database, receiver):
    await store_recent_drop(database)
    env = {"EXECLENS_ALERT_WEBHOOK_URLS": receiver.url("hook")}
    result = await cli("monitor", "--once", extra_env=env)
    assert result.exit_code == 0, result.output
    assert "checked 1 agents, 1 new alerts" in result.stdout
    assert "Inbox triage: opened (drop 36.4%); webhook (127.0.0.1) sent" in result.stdout
    assert receiver.url("hook") not in result.output
    assert len(receiver.bodies("hook")) == 1

    again = await cli("monitor", "--once", extra_env=env)
    assert "checked 1 agents, 0 new alerts" in again.stdout
    assert len(receiver.bodies("hook")) == 1


async def test_monitor_bad_interval_is_a_one_line_error(cli, database):
    result = await cli("monitor", "--interval", "soon")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: --interval: 'soon' is not a duration; use e.g. 90s, 15m, 1h, 1d or 1h30m"
    )


async def test_demo_ends_with_every_agents_trend_and_the_drop_alert(cli, database):
    result = await cli("demo", "--judge-per-agent", "0")
    assert result.exit_code == 0, result.output
    tail = result.stdout[result.stdout.index("accuracy trends") :]
    for name in ("Blog Post Writer", "Deep Research Team", "Inbox Triage"):
        assert name in tail
    assert "ALERT Inbox Triage Assistant: 3-day average" in tail
    assert tail.count("ALERT") == 1
