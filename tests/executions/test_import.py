"""`execlens import`: streaming JSONL import with clear errors, on SQLite and PostgreSQL."""

import asyncio
import json
import multiprocessing
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from execlens.executions import importer
from execlens.executions.importer import (
    POOL_MIN_LINES,
    ImportLineError,
    ImportReport,
    import_lines,
)
from execlens.executions.models import Execution, NodeExecution
from execlens.executions.repository import (
    EXECUTION_COLUMNS,
    NODE_EXECUTION_COLUMNS,
    count_rows,
)
from execlens.executions.service import execution_service
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


# Large imports: parsed in worker processes, written in batches of DEFAULT_BATCH records.

LARGE = POOL_MIN_LINES + 1_000


def _large_dataset(executions: int = LARGE - 1) -> list[str]:
    lines = [_line("graph", make_graph())]
    lines += [_line("execution", make_execution(f"e-{i:05d}", nodes=1)) for i in range(executions)]
    return lines


@pytest.fixture
def two_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use worker processes even on a machine with one CPU."""
    monkeypatch.setattr(importer, "_worker_count", lambda: 2)


async def test_large_import_runs_in_workers_reports_progress_and_stops_them(database, two_workers):
    lines = _large_dataset()
    lines.insert(1_234, "   ")
    progress: list[tuple[int, int]] = []

    def on_progress(report: ImportReport) -> None:
        progress.append((report.executions, len(multiprocessing.active_children())))

    report = await import_lines(database, lines, on_progress=on_progress)
    assert (report.graphs, report.executions, report.node_executions) == (1, LARGE - 1, LARGE - 1)
    assert report.lines == len(lines)
    assert report.committed_through == len(lines)
    counts = [executions for executions, _ in progress]
    assert counts == sorted(counts) and len(counts) == len(set(counts)) > 1
    assert max(workers for _, workers in progress) == 2
    assert multiprocessing.active_children() == []
    expected = {"graphs": 1, "executions": LARGE - 1, "node_executions": LARGE - 1}
    assert await _counts(database) == expected


async def test_bad_line_in_a_later_batch_keeps_the_earlier_batches(
    cli, database, tmp_path, two_workers
):
    lines = _large_dataset()
    bad = make_execution("e-bad", nodes=1)
    bad["stats"]["correctness_score"] = 3
    lines[2_344] = _line("execution", bad)  # line 2345, in the fifth batch (lines 2001-2500)
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n")

    result = await cli("import", str(path))
    assert result.exit_code == 1
    message = result.stderr.strip()
    assert message.startswith("error: line 2345: stats.correctness_score: Input should be")
    assert "nothing from line 2001 on was written" in message
    assert await _counts(database) == {"graphs": 1, "executions": 1_999, "node_executions": 1_999}
    assert multiprocessing.active_children() == []


async def test_skip_invalid_in_a_large_import_skips_only_the_bad_lines(database, two_workers):
    lines = _large_dataset()
    lines[99] = "{oops"
    reused = make_execution("e-reuses-a-node-id", nodes=1)
    reused["node_executions"][0]["id"] = "e-02500-n0"
    lines.insert(2_600, _line("execution", reused))  # line 2601, same batch as e-02500

    report = await import_lines(database, lines, skip_invalid=True)
    assert [(s.line, s.reason.split(" (")[0]) for s in report.skipped] == [
        (100, "not valid JSON"),
        (
            2_601,
            "node_executions[0].id 'e-02500-n0' is also used by another execution in the batch",
        ),
    ]
    assert report.executions == LARGE - 2
    assert (await _counts(database))["executions"] == LARGE - 2


async def test_node_execution_id_reused_in_a_later_batch_is_a_bad_line(database, two_workers):
    lines = _large_dataset()
    reused = make_execution("e-reuses-a-node-id", nodes=1)
    reused["node_executions"][0]["id"] = "e-02500-n0"
    lines.insert(2_600, _line("execution", reused))

    with pytest.raises(ImportLineError) as raised:
        await import_lines(database, lines)
    assert raised.value.line == 2_601
    assert "nothing from line 2501 on was written" in str(raised.value)
    assert (await _counts(database))["executions"] == 2_499


async def test_same_execution_twice_in_a_batch_the_later_line_wins(database, two_workers):
    lines = _large_dataset()
    lines[2_100] = _line("execution", make_execution("e-02000", nodes=1, status="FAILED"))
    report = await import_lines(database, lines)
    assert report.executions == LARGE - 1  # e-02000 is written twice
    async with database.read() as session:
        stored = await execution_service.get(session, "e-02000")
    assert stored.status == "FAILED"
    assert (await _counts(database))["executions"] == LARGE - 2


async def test_node_execution_id_twice_in_one_execution_is_a_bad_line(cli, database, tmp_path):
    twice = make_execution("e-1", nodes=2)
    twice["node_executions"][1]["id"] = twice["node_executions"][0]["id"]
    path = tmp_path / "data.jsonl"
    path.write_text(_line("execution", twice) + "\n")
    result = await cli("import", str(path))
    assert result.exit_code == 1
    assert "line 1: node_executions[1].id 'e-1-n0' appears twice" in result.stderr


async def test_cancelled_or_failing_import_stops_its_workers(database, two_workers):
    started = asyncio.Event()
    task = asyncio.create_task(
        import_lines(database, _large_dataset(), on_progress=lambda _: started.set())
    )
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert multiprocessing.active_children() == []

    def unreadable() -> Iterator[str]:
        yield from _large_dataset()
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    with pytest.raises(UnicodeDecodeError):
        await import_lines(database, unreadable())
    assert multiprocessing.active_children() == []


async def test_text_and_timestamps_round_trip_exactly(database):
    tricky = 'tab\tnew line\nreturn\r back\\slash \\N "quoted" ünïcödé 🙂'
    execution = make_execution(
        f"e {tricky}"[:200], created_at="2026-11-01T12:00:00.123456+02:00", nodes=2
    )
    execution["stats"] |= {"error": tricky, "activity_status": tricky, "walltime": 0.1}
    node = execution["node_executions"][0]
    node |= {"id": tricky, "error": tricky, "input": {tricky: [tricky, 1.5, None, True]}}
    node |= {"output": tricky, "queued_at": "2026-11-01T10:00:00", "ended_at": None}

    await import_lines(database, [_line("execution", execution)])
    async with database.read() as session:
        stored = await execution_service.get(session, execution["id"])
    assert stored.created_at == datetime(2026, 11, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert stored.stats.error == stored.stats.activity_status == tricky
    assert stored.stats.walltime == 0.1
    first = next(n for n in stored.node_executions if n.id == tricky)
    assert first.error == tricky
    assert first.input == {tricky: [tricky, 1.5, None, True]}
    assert first.output == tricky
    assert first.queued_at == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert first.ended_at is None
    second = next(n for n in stored.node_executions if n.id != tricky)
    assert second.input == {"prompt": "Write about topic 1"}
    assert second.output == {"response": ["Post number 1"]}
    assert second.error is None


@pytest.mark.parametrize("dialect", ["sqlite"])
async def test_sqlite_timestamps_are_stored_in_sqlalchemy_text_format(database):
    execution = make_execution("e-1", created_at="2026-11-01T12:00:00+02:00")
    await import_lines(database, [_line("execution", execution)])
    async with database.read() as session:
        stored = await session.scalar(text("SELECT created_at FROM executions"))
    assert stored == "2026-11-01 10:00:00.000000"


def test_bulk_rows_cover_every_column():
    assert set(EXECUTION_COLUMNS) == {c.name for c in Execution.__table__.columns}
    # parent_id is written by OTLP ingest alone (its own insert), which names every column.
    columns = {c.name for c in NodeExecution.__table__.columns}
    assert set(NODE_EXECUTION_COLUMNS) == columns - {"parent_id"}


async def test_a_nul_character_is_a_bad_line(cli, database, tmp_path):
    bad = make_execution("e-nul")
    bad["stats"]["error"] = "oops\u0000"
    path = tmp_path / "data.jsonl"
    path.write_text(
        _line("execution", make_execution("e-ok")) + "\n" + _line("execution", bad) + "\n"
    )
    result = await cli("import", str(path))
    assert result.exit_code == 1
    assert "line 2: the line contains a NUL character" in result.stderr
    skipped = await cli("import", str(path), "--skip-invalid")
    assert skipped.exit_code == 0
    assert (await _counts(database))["executions"] == 1
