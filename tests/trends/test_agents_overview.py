"""GET /api/trends/agents and GET /api/graphs: every agent, as the dashboard lists them."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.trends.conftest import Run, store_runs


def _runs(graph_id: str, recent: float, earlier: float) -> list[Run]:
    """Seven days at ``earlier`` then three at ``recent``, ending today (real UTC time)."""
    today = datetime.now(UTC).date()
    return [
        Run(today - timedelta(days=offset), recent if offset < 3 else earlier, graph_id=graph_id)
        for offset in range(10)
        for _ in range(3)
    ]


async def test_overview_lists_each_agent_with_direction_and_alert(client, database, admin_headers):
    await store_runs(database, _runs("g-drop", 0.45, 0.9), name="Dropping")
    await store_runs(database, _runs("g-steady", 0.8, 0.8), name="Steady")
    response = await client.get("/api/trends/agents", headers=admin_headers)
    assert response.status_code == 200
    body = response.json()
    assert (body["days_back"], body["drop_threshold"], body["window"]) == (30, 10.0, "calendar")
    by_id = {item["graph_id"]: item for item in body["items"]}
    dropping, steady = by_id["g-drop"], by_id["g-steady"]
    assert dropping["name"] == "Dropping"
    assert dropping["direction"] == "down"
    assert dropping["alert"]["three_day_avg"] == dropping["three_day_avg"] == pytest.approx(45)
    assert (dropping["executions"], dropping["scored"]) == (30, 30)
    assert steady["direction"] == "flat" and steady["alert"] is None
    assert steady["seven_day_avg"] == pytest.approx(80)


async def test_graph_list_gives_counts_and_newest_version(client, database, admin_headers):
    await store_runs(database, _runs("g-drop", 0.45, 0.9), name="Dropping")
    response = await client.get("/api/graphs", headers=admin_headers)
    assert response.status_code == 200
    (item,) = response.json()["items"]
    assert item["graph_id"] == "g-drop" and item["name"] == "Dropping"
    assert (item["executions"], item["completed"], item["scored"]) == (30, 30, 30)
    assert item["latest_version"] == 1
    # Nine runs at 0.45 and 21 at 0.9.
    assert item["mean_score"] == pytest.approx((9 * 0.45 + 21 * 0.9) / 30)
