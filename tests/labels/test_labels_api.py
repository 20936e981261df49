"""Labels through the API: set, replace, remove, refuse bad input, and audit every change."""

import pytest

from tests.labels.conftest import run, store

LABEL = "/api/executions/{}/label"


@pytest.fixture
async def runs(database) -> None:
    await store(database, [run(n) for n in range(1, 4)])


async def audit_actions(client, headers) -> list[str]:
    events = (await client.get("/api/audit", headers=headers)).json()["items"]
    return [event["action"] for event in events]


async def test_a_label_is_set_replaced_and_audited(client, admin_headers, runs):
    first = await client.put(
        LABEL.format("run-001"), json={"score": 0.8, "note": "good"}, headers=admin_headers
    )
    second = await client.put(
        LABEL.format("run-001"), json={"score": "fail"}, headers=admin_headers
    )

    assert first.status_code == 200
    assert first.json()["labeler"] == "jwt:local-admin"
    assert second.json()["score"] == 0.0
    labels = (await client.get("/api/executions/run-001/labels", headers=admin_headers)).json()
    assert [(label["score"], label["note"]) for label in labels] == [(0.0, None)]
    assert await audit_actions(client, admin_headers) == ["label.set", "label.set"]


async def test_pass_is_a_shortcut_for_one(client, admin_headers, runs):
    response = await client.put(
        LABEL.format("run-002"), json={"score": "pass"}, headers=admin_headers
    )

    assert response.json()["score"] == 1.0


async def test_a_label_is_removed_once(client, admin_headers, runs):
    await client.put(LABEL.format("run-001"), json={"score": 1}, headers=admin_headers)

    removed = await client.delete(LABEL.format("run-001"), headers=admin_headers)
    again = await client.delete(LABEL.format("run-001"), headers=admin_headers)

    assert removed.status_code == 204
    assert again.status_code == 404
    assert "no label" in again.json()["detail"]
    assert (await client.get("/api/executions/run-001/labels", headers=admin_headers)).json() == []
    assert await audit_actions(client, admin_headers) == ["label.delete", "label.set"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"score": 1.5}, "score"),
        ({"score": -0.1}, "score"),
        ({"score": "maybe"}, "score"),
        ({"score": 0.5, "note": "x" * 2_001}, "note"),
        ({"score": 0.5, "labeler": "someone else"}, "labeler"),
        ({}, "score"),
        ({"score": 1, "note": "a\u0000b"}, "note"),
    ],
)
async def test_bad_labels_are_refused_naming_the_field_and_change_nothing(
    client, admin_headers, runs, body, field
):
    response = await client.put(LABEL.format("run-001"), json=body, headers=admin_headers)

    assert response.status_code == 422
    assert field in response.text
    assert "Traceback" not in response.text
    assert (await client.get("/api/executions/run-001/labels", headers=admin_headers)).json() == []
    assert await audit_actions(client, admin_headers) == []


async def test_a_label_of_an_unknown_run_is_a_404(client, admin_headers, runs):
    response = await client.put(LABEL.format("nope"), json={"score": 1}, headers=admin_headers)

    assert response.status_code == 404
    assert "no execution 'nope'" in response.json()["detail"]
    assert await audit_actions(client, admin_headers) == []


async def test_an_id_with_a_nul_character_is_refused_naming_it(client, admin_headers, runs):
    put = await client.put(LABEL.format("run%00"), json={"score": 1}, headers=admin_headers)
    delete = await client.delete(LABEL.format("run%00"), headers=admin_headers)

    assert (put.status_code, delete.status_code) == (422, 422)
    assert "execution_id: contains a NUL character" in put.json()["message"]


async def test_labels_need_an_admin(client, runs):
    response = await client.put(LABEL.format("run-001"), json={"score": 1})

    assert response.status_code == 401
