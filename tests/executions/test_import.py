"""`execlens import`: streaming JSONL import with clear errors, on SQLite and PostgreSQL."""

import json

from execlens.executions.repository import count_rows
from tests.factories import make_execution, make_graph


def _line(kind: str, record: dict) -> str:
    return json.dumps({"kind": kind} | record)


def _dataset(executions: int) -> list[str]:
    lines = [_line("graph", make_graph())]
    lines += [_line("execution", make_execution(f"e-{i:03d}")) for i in range(executions)]
    return lines


async def _counts(database) -> dict[str, int]:
    async with database.read() as session:
        return await count_rows(session)


async def test_import_file_then_reimport_changes_nothing(cli, database, tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(_dataset(30)) + "\n")
    result = await cli("import", str(path), "--batch-size", "7")
    assert result.exit_code == 0, result.output
    assert "imported 1 graphs, 30 executions and 60 node executions from 31 lines" in result.stdout
    expected = {"graphs": 1, "executions": 30, "node_executions": 60}
    assert await _counts(database) == expected
    again = await cli("import", str(path))
    assert again.exit_code == 0
    assert await _counts(database) == expected


async def test_import_from_stdin(cli, database):
    result = await cli("import", "-", input="\n".join(_dataset(3)) + "\n\n")
    assert result.exit_code == 0, result.output
    assert (await _counts(database))["executions"] == 3


async def test_corrupt_line_stops_the_import_and_keeps_nothing_of_its_batch(
    cli, database, tmp_path
):
    lines = _dataset(25)
    bad = make_execution("e-bad")
    bad["status"] = "EXPLODED"
    lines.insert(14, _line("execution", bad))  # line 15, in the second batch of 10
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n")

    result = await cli("import", str(path), "--batch-size", "10")
    assert result.exit_code == 1
    message = result.stderr.strip()
    assert message.startswith("error: line 15: status: Input should be")
    assert "nothing from line 11 on was written" in message
    assert len(message.splitlines()) == 1, message
    assert "Traceback" not in result.output
    # The first batch (lines 1-10: the graph and 9 executions) is committed; no line of the
    # failing batch is.
    assert await _counts(database) == {"graphs": 1, "executions": 9, "node_executions": 18}


async def test_broken_json_and_unknown_kind_name_the_line(cli, tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(_dataset(1)[0] + "\n{not json\n")
    result = await cli("import", str(path))
    assert result.exit_code == 1
    assert "line 2: not valid JSON" in result.stderr

    path.write_text(json.dumps({"kind": "user", "id": "x"}) + "\n")
    result = await cli("import", str(path))
    assert 'line 1: kind: must be "graph" or "execution"' in result.stderr


async def test_skip_invalid_imports_the_rest_and_reports_skipped_lines(cli, database, tmp_path):
    lines = _dataset(12)
    lines[3] = "{oops"
    missing_user = make_execution("e-no-user")
    del missing_user["user_id"]
    lines.append(_line("execution", missing_user))
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n")

    result = await cli("import", str(path), "--skip-invalid", "--batch-size", "5")
    assert result.exit_code == 0, result.output
    assert "skipped 2 invalid lines" in result.stdout
    assert "line 4: not valid JSON" in result.stdout
    assert "line 14: user_id: Field required" in result.stdout
    assert (await _counts(database))["executions"] == 11


async def test_node_execution_id_reused_across_executions_is_a_bad_line(cli, database, tmp_path):
    first, second = make_execution("e-1", nodes=1), make_execution("e-2", nodes=1)
    second["node_executions"][0]["id"] = first["node_executions"][0]["id"]
    path = tmp_path / "data.jsonl"
    path.write_text(_line("execution", first) + "\n" + _line("execution", second) + "\n")
    result = await cli("import", str(path))
    assert result.exit_code == 1
    assert "line 2: node_executions[0].id 'e-1-n0' is also used by another execution" in (
        result.stderr
    )
    assert (await _counts(database))["executions"] == 0


async def test_missing_file_is_one_line_error(cli, tmp_path):
    result = await cli("import", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {tmp_path / 'nope.jsonl'}: no such file"
