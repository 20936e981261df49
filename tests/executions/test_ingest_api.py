"""Ingestion and reading through the REST API, on SQLite and PostgreSQL."""

import json

from execlens.executions.repository import count_rows
from tests.factories import make_execution, make_graph


async def _counts(database) -> dict[str, int]:
    async with database.read() as session:
        return await count_rows(session)


async def test_batch_is_stored_and_read_back_with_node_executions(client, admin_headers):
    batch = {"executions": [make_execution("e-1"), make_execution("e-2", nodes=3)]}
    response = await client.post("/api/executions", json=batch, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"executions": 2, "node_executions": 5}

    one = (await client.get("/api/executions/e-2", headers=admin_headers)).json()
    assert one["graph_id"] == "g-blog"
    assert one["stats"]["cost"] == 12
    assert one["created_at"] == "2026-11-01T10:00:00Z"
    assert [n["id"] for n in one["node_executions"]] == ["e-2-n0", "e-2-n1", "e-2-n2"]
    assert one["node_executions"][1]["input"] == {"prompt": "Write about topic 1"}
    assert one["node_executions"][1]["output"] == {"response": ["Post number 1"]}


async def test_resending_a_batch_changes_nothing(client, admin_headers, database):
    batch = {"executions": [make_execution("e-1"), make_execution("e-2")]}
    await client.post("/api/executions", json=batch, headers=admin_headers)
    before = (await client.get("/api/executions/e-1", headers=admin_headers)).json()
    again = await client.post("/api/executions", json=batch, headers=admin_headers)
    assert again.status_code == 200
    assert await _counts(database) == {"graphs": 0, "executions": 2, "node_executions": 4}
    assert (await client.get("/api/executions/e-1", headers=admin_headers)).json() == before


async def test_upsert_updates_changed_fields_but_keeps_an_earlier_verdict(client, admin_headers):
    judged = make_execution("e-1")
    judged["stats"] |= {"activity_status": "Wrote the post.", "correctness_score": 0.9}
    await client.post("/api/executions", json={"executions": [judged]}, headers=admin_headers)

    changed = make_execution("e-1", status="FAILED")
    changed["stats"]["error"] = "boom"
    await client.post("/api/executions", json={"executions": [changed]}, headers=admin_headers)

    stored = (await client.get("/api/executions/e-1", headers=admin_headers)).json()
    assert stored["status"] == "FAILED"
    assert stored["stats"]["error"] == "boom"
    assert stored["stats"]["activity_status"] == "Wrote the post."
    assert stored["stats"]["correctness_score"] == 0.9


async def test_invalid_record_rejects_the_whole_batch_naming_index_and_field(
    client, admin_headers, database
):
    bad = make_execution("e-3")
    bad["stats"]["correctness_score"] = 1.7
    batch = {
        "executions": [make_execution("e-1"), make_execution("e-2"), make_execution("e-9"), bad]
    }
    response = await client.post("/api/executions", json=batch, headers=admin_headers)
    assert response.status_code == 422
    body = response.json()
    assert body["message"].startswith("executions[3].stats.correctness_score:")
    assert body["detail"][0]["loc"] == ["body", "executions", 3, "stats", "correctness_score"]
    assert "input" not in body["detail"][0]
    assert (await _counts(database))["executions"] == 0


async def test_duplicate_ids_in_a_batch_are_rejected(client, admin_headers, database):
    batch = {"executions": [make_execution("e-1"), make_execution("e-1")]}
    response = await client.post("/api/executions", json=batch, headers=admin_headers)
    assert response.status_code == 422
    assert "executions[1].id 'e-1' appears twice" in response.json()["message"]
    assert (await _counts(database))["executions"] == 0


async def test_batch_limits_and_unknown_fields_are_clear_errors(client, admin_headers):
    too_many = {"executions": [make_execution(f"e-{i}", nodes=0) for i in range(1001)]}
    response = await client.post("/api/executions", json=too_many, headers=admin_headers)
    assert response.status_code == 422
    assert "at most 1000" in response.json()["message"]

    typo = make_execution("e-1")
    typo["graph_verison"] = 2
    response = await client.post(
        "/api/executions", json={"executions": [typo]}, headers=admin_headers
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("executions[0].graph_verison:")


async def test_naive_and_offset_timestamps_are_stored_as_utc(client, admin_headers):
    batch = {
        "executions": [
            make_execution("naive", created_at="2026-11-01T10:00:00"),
            make_execution("offset", created_at="2026-11-01T12:00:00+02:00"),
        ]
    }
    await client.post("/api/executions", json=batch, headers=admin_headers)
    for execution_id in ("naive", "offset"):
        body = (await client.get(f"/api/executions/{execution_id}", headers=admin_headers)).json()
        assert body["created_at"] == "2026-11-01T10:00:00Z"


async def test_listing_pages_through_everything_newest_first_with_filters(client, admin_headers):
    executions = [
        make_execution(
            f"e-{i:02d}",
            created_at=f"2026-11-{1 + i % 5:02d}T10:00:00Z",
            user_id="u-1" if i % 2 else "u-2",
            nodes=1,
        )
        for i in range(23)
    ]
    await client.post("/api/executions", json={"executions": executions}, headers=admin_headers)

    seen, cursor = [], None
    while True:
        params = {"limit": 5} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/executions", params=params, headers=admin_headers)).json()
        seen += [(e["created_at"], e["id"]) for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 23
    assert seen == sorted(seen, reverse=True)

    filtered = await client.get(
        "/api/executions",
        params={
            "user_id": "u-1",
            "created_after": "2026-11-02T00:00:00Z",
            "created_before": "2026-11-04T00:00:00Z",
        },
        headers=admin_headers,
    )
    items = filtered.json()["items"]
    expected = {
        e["id"]
        for e in executions
        if e["user_id"] == "u-1" and "11-02" <= e["created_at"][5:10] < "11-04"
    }
    assert {e["id"] for e in items} == expected and expected


async def test_bad_query_values_get_422_naming_the_parameter(client, admin_headers):
    response = await client.get(
        "/api/executions", params={"cursor": "nonsense!"}, headers=admin_headers
    )
    assert response.status_code == 422
    assert "cursor" in response.json()["detail"]
    response = await client.get("/api/executions", params={"status": "DONE"}, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["message"].startswith("status:")
    response = await client.get("/api/executions", params={"limit": 0}, headers=admin_headers)
    assert response.status_code == 422


async def test_unknown_execution_is_404(client, admin_headers):
    response = await client.get("/api/executions/nope", headers=admin_headers)
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


async def test_graph_versions_are_upserted(client, admin_headers):
    assert (
        await client.put("/api/graphs", json=make_graph(), headers=admin_headers)
    ).status_code == 200
    renamed = make_graph(name="Blog writer v1.1")
    assert (await client.put("/api/graphs", json=renamed, headers=admin_headers)).json() == {
        "id": "g-blog",
        "version": 1,
    }
    await client.put("/api/graphs", json=make_graph(version=2), headers=admin_headers)
    v1 = (await client.get("/api/graphs/g-blog/versions/1", headers=admin_headers)).json()
    assert v1["name"] == "Blog writer v1.1"
    assert v1["links"][0] == {
        "source_id": "in",
        "sink_id": "llm",
        "source_name": "result",
        "sink_name": "prompt",
    }


async def test_graph_with_a_dangling_link_is_rejected(client, admin_headers):
    graph = make_graph()
    graph["links"].append(
        {"source_id": "llm", "sink_id": "ghost", "source_name": "a", "sink_name": "b"}
    )
    response = await client.put("/api/graphs", json=graph, headers=admin_headers)
    assert response.status_code == 422
    assert "links[2].sink_id 'ghost' is not a node" in response.json()["message"]


async def test_values_the_databases_cannot_hold_are_422_not_500(client, admin_headers, database):
    huge = make_execution("e-huge")
    huge["stats"]["cost"] = 2**40
    response = await client.post(
        "/api/executions", json={"executions": [huge]}, headers=admin_headers
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("executions[0].stats.cost:")

    not_a_number = make_execution("e-nan")
    encoded = json.dumps(not_a_number).replace('"walltime": 3.5', '"walltime": NaN')
    body = f'{{"executions": [{encoded}]}}'
    response = await client.post(
        "/api/executions",
        content=body,
        headers=admin_headers | {"content-type": "application/json"},
    )
    assert response.status_code == 422

    response = await client.get(f"/api/graphs/g/versions/{2**40}", headers=admin_headers)
    assert response.status_code == 422
    assert (await _counts(database))["executions"] == 0


async def test_nul_characters_are_refused_with_422_on_both_databases(
    client, admin_headers, database
):
    execution = make_execution("e-nul")
    execution["node_executions"][0]["output"] = {"text": "before\u0000after"}
    response = await client.post(
        "/api/executions", json={"executions": [execution]}, headers=admin_headers
    )
    assert response.status_code == 422
    assert "NUL character" in response.json()["detail"]
    literal = make_execution("e-literal")
    literal["stats"]["error"] = "a literal \\u0000 is just text"
    response = await client.post(
        "/api/executions", json={"executions": [literal]}, headers=admin_headers
    )
    assert response.status_code == 200
    stored = (await client.get("/api/executions/e-literal", headers=admin_headers)).json()
    assert stored["stats"]["error"] == "a literal \\u0000 is just text"
    assert (await _counts(database))["executions"] == 1


async def test_nan_inside_node_data_is_stored_as_null_on_both_databases(client, admin_headers):
    encoded = json.dumps(make_execution("e-nan-data")).replace('"Write about topic 0"', "NaN")
    response = await client.post(
        "/api/executions",
        content=f'{{"executions": [{encoded}]}}',
        headers=admin_headers | {"content-type": "application/json"},
    )
    assert response.status_code == 200
    stored = (await client.get("/api/executions/e-nan-data", headers=admin_headers)).json()
    assert stored["node_executions"][0]["input"] == {"prompt": None}


def _nested(depth: int) -> object:
    value: object = "deep"
    for _ in range(depth):
        value = [value]
    return value


def _unstorable_executions() -> list[dict]:
    """Records `execlens import` refuses: a lone surrogate, or nesting past the parser's limit."""
    surrogate_error = make_execution("e-surrogate-error")
    surrogate_error["stats"]["error"] = "\udfff"
    surrogate_output = make_execution("e-surrogate-output")
    surrogate_output["node_executions"][0]["output"] = {"text": "a\udfffb"}
    deep = make_execution("e-deep")
    deep["node_executions"][0]["output"] = _nested(260)
    return [surrogate_error, surrogate_output, deep]


async def _ingest_key(database) -> dict[str, str]:
    from execlens.auth.models import ApiKeyScope
    from execlens.auth.service import api_key_service

    async with database.write() as session:
        _, key = await api_key_service.create(
            session, name="loader", scope=ApiKeyScope.INGEST, actor="test"
        )
    return {"X-API-Key": key, "content-type": "application/json"}


async def test_what_the_import_refuses_the_api_refuses_with_422(client, database, cli, tmp_path):
    headers = await _ingest_key(database)
    for execution in _unstorable_executions():
        # json.dumps writes a lone surrogate as the escape "\udfff", as any client would.
        body = json.dumps({"executions": [execution, make_execution("e-fine")]})
        response = await client.post("/api/executions", content=body, headers=headers)
        assert response.status_code == 422, (execution["id"], response.text)
        assert "not valid JSON" in response.json()["detail"]

        line = tmp_path / f"{execution['id']}.jsonl"
        line.write_text(json.dumps({"kind": "execution", **execution}) + "\n")
        result = await cli("import", str(line))
        assert result.exit_code == 1 and "line 1: not valid JSON" in result.output
    assert await _counts(database) == {"graphs": 0, "executions": 0, "node_executions": 0}
