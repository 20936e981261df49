"""Demo data end to end: generate, import, read back through the API, re-import."""

from execlens.executions.repository import count_rows


async def test_demo_data_imports_and_reads_back_and_reimport_changes_nothing(
    cli, client, admin_headers, database, tmp_path
):
    path = tmp_path / "demo.jsonl"
    written = await cli(
        "demo-data", "--days", "3", "--seed", "3", "--end", "2026-11-20", "--out", str(path)
    )
    assert written.exit_code == 0, written.output
    imported = await cli("import", str(path))
    assert imported.exit_code == 0, imported.output

    async with database.read() as session:
        counts = await count_rows(session)
    assert counts["graphs"] >= 4
    assert counts["executions"] > 50
    assert counts["node_executions"] > counts["executions"]

    page = (await client.get("/api/executions", params={"limit": 5}, headers=admin_headers)).json()
    assert len(page["items"]) == 5 and page["next_cursor"]
    assert page["items"][0]["created_at"].startswith("2026-11-20")
    completed = await client.get(
        "/api/executions", params={"status": "COMPLETED", "limit": 1}, headers=admin_headers
    )
    execution_id = completed.json()["items"][0]["id"]
    one = (await client.get(f"/api/executions/{execution_id}", headers=admin_headers)).json()
    assert one["node_executions"]
    assert {n["block_name"] for n in one["node_executions"]} >= {"AgentInputBlock"}

    again = await cli("import", str(path))
    assert again.exit_code == 0
    async with database.read() as session:
        assert await count_rows(session) == counts
