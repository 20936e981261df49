"""Listing runs by score, label and judge: the filters of the run list page."""

import pytest

from tests.labels.conftest import judge_runs, run, store

LIST = "/api/executions"


@pytest.fixture
async def judged(database, client, admin_headers) -> None:
    await store(database, [run(n) for n in range(1, 9)])
    await judge_runs(database, {"run-001": 0.9, "run-002": 0.6, "run-003": 0.2}, model="good")
    await judge_runs(database, {"run-004": 0.95, "run-005": 0.4}, model="other")
    for execution_id, score in {"run-001": 1, "run-005": "fail", "run-007": 0.5}.items():
        response = await client.put(
            f"{LIST}/{execution_id}/label", json={"score": score}, headers=admin_headers
        )
        assert response.status_code == 200


async def ids(client, headers, **params) -> list[str]:
    """Page through the list two runs at a time; return every id in order."""
    seen, cursor = [], None
    while True:
        query = params | {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = await client.get(LIST, params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


async def test_score_range_keeps_runs_whose_latest_score_is_inside(client, admin_headers, judged):
    found = await ids(client, admin_headers, score_min=0.5, score_max=0.9)
    assert sorted(found) == ["run-001", "run-002"]
    assert sorted(await ids(client, admin_headers, score_max=0.3)) == ["run-003"]


async def test_labelled_or_not(client, admin_headers, judged):
    assert sorted(await ids(client, admin_headers, labelled="true")) == [
        "run-001",
        "run-005",
        "run-007",
    ]
    unlabelled = await ids(client, admin_headers, labelled="false")
    assert sorted(unlabelled) == ["run-002", "run-003", "run-004", "run-006", "run-008"]


async def test_judged_by_provider_and_model(client, admin_headers, judged):
    assert sorted(await ids(client, admin_headers, judged_by="openai/other")) == [
        "run-004",
        "run-005",
    ]
    assert len(await ids(client, admin_headers, judged_by="openai")) == 5
    assert await ids(client, admin_headers, judged_by="anthropic/good") == []


async def test_filters_combine_with_keyset_pages_newest_first(client, admin_headers, judged):
    found = await ids(client, admin_headers, judged_by="openai", labelled="false", score_min=0.1)
    assert sorted(found) == ["run-002", "run-003", "run-004"]
    everything = await ids(client, admin_headers)
    assert [i for i in everything if i in found] == found


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"score_min": 1.5}, "score_min"),
        ({"score_max": -0.1}, "score_max"),
        ({"score_min": 0.8, "score_max": 0.2}, "score_min"),
        ({"labelled": "maybe"}, "labelled"),
        ({"judged_by": ""}, "judged_by"),
        ({"judged_by": "x" * 500}, "judged_by"),
        ({"judged_by": "openai/\x00"}, "judged_by"),
        ({"graph_id": "g\x00"}, "graph_id"),
    ],
)
async def test_bad_filter_values_get_422_naming_the_field(
    client, admin_headers, judged, params, field
):
    response = await client.get(LIST, params=params, headers=admin_headers)
    assert response.status_code == 422
    body = response.json()
    assert field in body.get("message", body["detail"])
