"""GET /api/executions/admin/execution_accuracy_trends: upstream's numbers, shapes, leniency."""

from datetime import UTC, datetime, time, timedelta

import httpx2
import pytest

from execlens.app import create_app
from tests.trends.conftest import Run, store_runs
from tests.upstream.autogpt_table import autogpt_table, insert_runs, upstream_trends

URL = "/api/executions/admin/execution_accuracy_trends"
VALUES = ("daily_score", "three_day_avg", "seven_day_avg", "fourteen_day_avg")


def series(now: datetime, days_back: int) -> list[Run]:
    """Runs that tell calendar windows from upstream's rows: gaps, single-run days, a cut-off."""
    today = now.date()
    runs = [
        Run(today - timedelta(days=offset), score, status=status, user_id=user)
        for offset, score, status, user in [
            (0, 0.4, "COMPLETED", "u-1"),  # a day with one run
            (1, 0.5, "FAILED", "u-1"),
            (1, None, "COMPLETED", "u-2"),  # not scored: counted, not averaged
            (1, 0.9, "RUNNING", "u-1"),  # not finished: left out
            (4, 0.8, "TERMINATED", "u-2"),  # two-day gap before it
            (4, 0.9, "COMPLETED", "u-1"),
            (9, 1.0, "COMPLETED", "u-1"),
            (11, None, "COMPLETED", "u-1"),  # a day of unscored runs
            (13, 0.95, "COMPLETED", "u-2"),
        ]
    ]
    runs.append(Run(today, 0.1, graph_id="g-other"))
    # Upstream's cut-off is an instant, days_back times 24 h ago: one run an hour before it,
    # one an hour after, on the same day or the ones around it.
    cut_off = now - timedelta(days=days_back)
    for shift, score in ((-1, 0.0), (1, 0.6)):
        at = cut_off + timedelta(hours=shift)
        runs.append(Run(at.date(), score, hour=at.hour))
    return runs


def values(points: list[dict]) -> list[tuple]:
    """Return each day's date and values, rounded past floating-point noise."""
    return [
        (p["date"], *(None if p[k] is None else round(p[k], 9) for k in VALUES)) for p in points
    ]


@pytest.mark.parametrize("user_id", [None, "u-1"])
async def test_numbers_equal_upstream_sql_on_the_same_rows(
    client, admin_headers, database, postgres_url, user_id
):
    days_back = 14
    now = datetime.now(UTC)
    runs = series(now, days_back)
    await store_runs(database, runs)
    async with autogpt_table(postgres_url) as upstream:
        await insert_runs(upstream, runs)
        params = {"graph_id": "g-blog", "days_back": days_back, "include_historical": "true"}
        if user_id:
            params["user_id"] = user_id
        response = await client.get(URL, params=params, headers=admin_headers)
        expected = await upstream_trends(upstream, "g-blog", days_back=days_back, user_id=user_id)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["window"] == "rows"
    assert values(body["historical_data"]) == values(expected)
    assert values([body["latest_data"]]) == values(expected[:1])
    # The run an hour after the cut-off is the oldest data; the one before it is not data.
    cut_off = now - timedelta(days=days_back)
    first_day = (cut_off + timedelta(hours=1)).date()
    assert expected[-1]["date"] == f"{first_day.isoformat()}T00:00:00"
    days = {
        run.day
        for run in runs
        if run.graph_id == "g-blog"
        and run.status != "RUNNING"
        and user_id in (None, run.user_id)
        and datetime.combine(run.day, time(run.hour), tzinfo=UTC) >= cut_off
    }
    assert len(expected) == len(days) >= 6


async def test_calendar_windows_on_request_or_by_setting(settings, database, admin_headers, client):
    await store_runs(database, series(datetime.now(UTC), 14))
    params = {"graph_id": "g-blog", "days_back": 14}

    rows = (await client.get(URL, params=params, headers=admin_headers)).json()
    calendar = (
        await client.get(URL, params=params | {"window": "calendar"}, headers=admin_headers)
    ).json()
    operator = settings.model_copy(update={"upstream_trends_window": "calendar"})
    app = create_app(operator, database=database, migrate=False)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://t"
    ) as other:
        by_setting = (await other.get(URL, params=params, headers=admin_headers)).json()

    assert (rows["window"], calendar["window"], by_setting["window"]) == ("rows", *["calendar"] * 2)
    # Today's 3 calendar days hold days 0 and 1; the last 3 days with data reach day 4.
    assert calendar["latest_data"]["three_day_avg"] == pytest.approx(45)
    assert rows["latest_data"]["three_day_avg"] == pytest.approx((40 + 50 + 85) / 3)
    assert by_setting["latest_data"] == calendar["latest_data"]


async def test_dates_are_naive_days_and_empty_history_is_null(client, admin_headers, database):
    await store_runs(database, [Run(datetime.now(UTC).date(), 0.5)])
    params = {"include_historical": "true"}

    found = await client.get(URL, params=params | {"graph_id": "g-blog"}, headers=admin_headers)
    empty = await client.get(URL, params=params | {"graph_id": "g-none"}, headers=admin_headers)

    day = datetime.now(UTC).date().isoformat() + "T00:00:00"
    assert found.json()["latest_data"]["date"] == day
    assert [p["date"] for p in found.json()["historical_data"]] == [day]
    body = empty.json()
    assert body["historical_data"] is None and body["alert"] is None
    assert all(body["latest_data"][k] is None for k in VALUES)


@pytest.mark.parametrize(
    "extra",
    [
        {"_": "1764500000000"},  # a browser's cache-buster
        {"colour": "red", "page": "2"},
        {"user_id": ""},  # blank: every user, as upstream reads it
    ],
)
async def test_unknown_parameters_are_ignored(client, admin_headers, database, extra):
    await store_runs(database, [Run(datetime.now(UTC).date(), 0.5)])
    params = {"graph_id": "g-blog"} | extra

    response = await client.get(URL, params=params, headers=admin_headers)

    assert response.status_code == 200, response.text
    assert response.json()["latest_data"]["daily_score"] == 50


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"days_back": 0}, "days_back"),
        ({"days_back": 366}, "days_back"),
        ({"drop_threshold": 0}, "drop_threshold"),
        ({"drop_threshold": 101}, "drop_threshold"),
        ({"window": "weeks"}, "window"),
        ({"graph_id": None}, "graph_id"),
    ],
)
async def test_values_that_protect_the_data_are_still_checked(
    client, admin_headers, database, params, field
):
    query = {k: v for k, v in ({"graph_id": "g-blog"} | params).items() if v is not None}

    response = await client.get(URL, params=query, headers=admin_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]
    assert response.json()["message"].startswith(field)
