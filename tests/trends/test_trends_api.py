"""GET /api/trends: execlens's own trend route, strict, calendar windows by default."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.trends.conftest import Run, store_runs

URL = "/api/trends"
POINT_KEYS = {"date", "daily_score", "three_day_avg", "seven_day_avg", "fourteen_day_avg"}
ALERT_KEYS = {"graph_id", "user_id", "drop_percent", "three_day_avg", "seven_day_avg"}


async def store_drop(database) -> None:
    """A week at 0.9, then three days at 0.45, ending today (by the real clock)."""
    today = datetime.now(UTC).date()
    runs = [
        Run(today - timedelta(days=o), 0.9 if o >= 3 else 0.45, hour=0)
        for o in range(10)
        for _ in range(3)
    ]
    await store_runs(database, runs)


async def test_fields_and_alert(client, admin_headers, database):
    await store_drop(database)
    params = {"graph_id": "g-blog", "include_historical": "true", "days_back": 7}
    response = await client.get(URL, params=params, headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["latest_data"].keys() >= POINT_KEYS
    assert ALERT_KEYS | {"detected_at"} == body["alert"].keys()
    latest = body["latest_data"]
    assert body["window"] == "calendar"
    assert latest["date"].endswith("T00:00:00Z")
    assert (latest["daily_score"], latest["three_day_avg"]) == (45, 45)
    # 7 days: four at 90, three at 45.
    assert latest["seven_day_avg"] == pytest.approx(495 / 7)
    assert body["alert"]["drop_percent"] == pytest.approx(180 / 495 * 100)
    assert body["alert"]["user_id"] is None
    assert len(body["historical_data"]) == 7
    assert body["historical_data"][0] == latest
    dates = [p["date"] for p in body["historical_data"]]
    assert dates == sorted(dates, reverse=True)


async def test_no_data_answers_nulls(client, admin_headers, database):
    response = await client.get(URL, params={"graph_id": "nothing-here"}, headers=admin_headers)
    assert response.status_code == 200
    body = response.json()
    assert {k: body["latest_data"][k] for k in POINT_KEYS - {"date"}} == dict.fromkeys(
        POINT_KEYS - {"date"}
    )
    assert body["alert"] is None and body["historical_data"] is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"days_back": 0}, "days_back: Input should be greater than or equal to 1"),
        ({"days_back": 366}, "days_back: Input should be less than or equal to 365"),
        (
            {"days_back": "week"},
            "days_back: Input should be a valid integer, unable to parse string as an integer",
        ),
        ({"drop_threshold": 0}, "drop_threshold: Input should be greater than 0"),
        ({"drop_threshold": 100.5}, "drop_threshold: Input should be less than or equal to 100"),
        ({"drop_threshold": "nan"}, "drop_threshold: Input should be a finite number"),
        ({"window": "weeks"}, "window: Input should be 'calendar' or 'rows'"),
        ({"min_executions": 0}, "min_executions: Input should be greater than or equal to 1"),
        ({"graph_id": None}, "graph_id: Field required"),
        # Unlike the upstream route, a misspelt parameter is not dropped silently.
        ({"day_back": 7}, "day_back: Extra inputs are not permitted"),
    ],
)
async def test_bad_parameters_get_422_naming_the_field(
    client, admin_headers, database, params, message
):
    query = {k: v for k, v in ({"graph_id": "g-blog"} | params).items() if v is not None}
    response = await client.get(URL, params=query, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["message"] == message


async def test_admins_only(client, database):
    response = await client.get(URL, params={"graph_id": "g-blog"})
    assert response.status_code == 401
