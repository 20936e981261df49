"""Timestamps that Python parses but a database cannot store or return are a 422, not a 500."""

import json

from tests.factories import make_execution


async def _ingest(client, headers, created_at: str):
    batch = {"executions": [make_execution(created_at=created_at)]}
    return await client.post("/api/executions", json=batch, headers=headers)


async def test_an_offset_beyond_postgresql_range_is_stored_as_utc(client, admin_headers):
    response = await _ingest(client, admin_headers, "2000-01-01T00:00:00+16:00")
    assert response.status_code == 200
    stored = (await client.get("/api/executions/e-1", headers=admin_headers)).json()
    assert stored["created_at"] == "1999-12-31T08:00:00Z"
    assert stored["node_executions"][0]["queued_at"] == "1999-12-31T08:00:00Z"


async def test_a_time_outside_years_1_to_9999_in_utc_is_refused(client, admin_headers):
    for created_at in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"):
        response = await _ingest(client, admin_headers, created_at)
        assert response.status_code == 422, response.text
        assert "years 1 to 9999" in response.json()["detail"]
        listed = await client.get(
            "/api/executions", params={"created_after": created_at}, headers=admin_headers
        )
        assert listed.status_code == 422
    assert (await client.get("/api/executions", headers=admin_headers)).json()["items"] == []


async def test_the_import_names_the_line_of_such_a_time(cli, tmp_path):
    path = tmp_path / "runs.jsonl"
    record = make_execution(created_at="0001-01-01T00:00:00+05:00")
    path.write_text(json.dumps({"kind": "execution", **record}) + "\n")
    result = await cli("import", str(path))
    assert result.exit_code == 1
    assert "line 1" in result.output and "years 1 to 9999" in result.output
