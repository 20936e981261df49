"""The demo dataset: valid, deterministic, realistic, and with one agent whose quality drops."""

import io
import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter

from execlens.demo.generator import generate_records, write_jsonl
from execlens.executions.schemas import ImportLine

END = date(2025, 3, 14)
FINISHED = ("COMPLETED", "FAILED", "TERMINATED")
DROP_AGENT = "Inbox Triage Assistant"

Record = dict[str, Any]


@pytest.fixture(scope="module")
def records() -> list[Record]:
    return list(generate_records(end=END))


@pytest.fixture(scope="module")
def graphs(records: list[Record]) -> dict[tuple[str, int], Record]:
    return {(r["id"], r["version"]): r for r in records if r["kind"] == "graph"}


@pytest.fixture(scope="module")
def executions(records: list[Record]) -> list[Record]:
    return [r for r in records if r["kind"] == "execution"]


def _name(graphs: dict[tuple[str, int], Record], execution: Record) -> str:
    return graphs[execution["graph_id"], execution["graph_version"]]["name"]


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _drops(records: list[Record], end: date) -> dict[str, float]:
    """Per agent: how much lower the last 3 days' mean daily score is than the last 7 days'."""
    names = {r["id"]: r["name"] for r in records if r["kind"] == "graph"}
    daily: dict[str, dict[date, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r["kind"] == "execution" and r["stats"].get("correctness_score") is not None:
            day = _ts(r["created_at"]).date()
            daily[names[r["graph_id"]]][day].append(r["stats"]["correctness_score"])

    def window(by_day: dict[date, list[float]], days: int) -> float:
        means = [sum(s) / len(s) for d, s in by_day.items() if (end - d).days < days]
        return sum(means) / len(means)

    return {name: 1 - window(by_day, 3) / window(by_day, 7) for name, by_day in daily.items()}


def test_same_arguments_give_byte_identical_output() -> None:
    outputs = []
    for seed in (7, 7, 8):
        out = io.StringIO()
        write_jsonl(generate_records(days=5, seed=seed, end=END), out)
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]


def test_every_record_validates_as_an_import_line(records: list[Record]) -> None:
    adapter = TypeAdapter(ImportLine)
    for record in records:
        adapter.validate_python(record)


def test_write_jsonl_writes_one_compact_line_per_record() -> None:
    records = list(generate_records(days=2, end=END))
    out = io.StringIO()
    count = write_jsonl(records, out)
    lines = out.getvalue().splitlines()
    assert count == len(lines) == len(records)
    adapter = TypeAdapter(ImportLine)
    for line, record in zip(lines, records, strict=True):
        adapter.validate_json(line)
        assert line == json.dumps(record, separators=(",", ":"))


def test_graphs_come_first_and_every_execution_has_its_graph(
    records: list[Record], graphs: dict[tuple[str, int], Record]
) -> None:
    kinds = [r["kind"] for r in records]
    assert kinds == sorted(kinds, key=lambda kind: kind != "graph")
    for r in records:
        if r["kind"] == "execution":
            assert (r["graph_id"], r["graph_version"]) in graphs


def test_four_agents_built_from_autogpt_blocks(
    graphs: dict[tuple[str, int], Record], executions: list[Record]
) -> None:
    assert len({graph_id for graph_id, _ in graphs}) == 4
    for graph in graphs.values():
        blocks = {node["block_name"] for node in graph["nodes"]}
        assert {"AgentInputBlock", "AgentOutputBlock"} <= blocks
        assert len(graph["description"]) > 150
    assert any(
        node["block_name"] == "AgentExecutorBlock"
        for graph in graphs.values()
        for node in graph["nodes"]
    )
    # One agent got a second version mid-period, which took over from then on.
    (upgraded,) = {graph_id for graph_id, version in graphs if version == 2}
    versions = [e["graph_version"] for e in executions if e["graph_id"] == upgraded]
    assert versions == sorted(versions)
    assert 0.3 < versions.count(1) / len(versions) < 0.7


def test_volume_users_and_times_of_day_look_real(executions: list[Record]) -> None:
    per_agent_day = Counter((e["graph_id"], e["created_at"][:10]) for e in executions)
    assert set(per_agent_day.values()) <= set(range(8, 21))
    assert len(per_agent_day) == 4 * 45
    assert 10 <= len({e["user_id"] for e in executions}) <= 20
    hours = Counter(_ts(e["created_at"]).hour for e in executions)
    assert hours[14] > hours[6] > hours[2] == 0


def test_graph_errors_stop_the_run_at_the_failing_node(
    graphs: dict[tuple[str, int], Record], executions: list[Record]
) -> None:
    failed = [e for e in executions if e["status"] == "FAILED"]
    for e in failed:
        last = e["node_executions"][-1]
        assert last["status"] == "FAILED"
        assert last["error"] == e["stats"]["error"]
        assert e["stats"]["node_error_count"] == 1
    messages = " ".join(e["stats"]["error"] for e in failed)
    assert "Rate limit exceeded for model gpt-4o" in messages
    assert "Timeout while fetching https://" in messages
    assert len({_name(graphs, e) for e in failed}) == 4


def test_some_completed_runs_return_an_empty_output(
    graphs: dict[tuple[str, int], Record], executions: list[Record]
) -> None:
    empty = [
        e
        for e in executions
        if e["status"] == "COMPLETED"
        and any(
            n["block_name"] == "AgentOutputBlock" and n["output"] in ({}, {"output": ""})
            for n in e["node_executions"]
        )
    ]
    assert len({_name(graphs, e) for e in empty}) == 4
    assert all(e["stats"]["error"] is None for e in empty)


def test_some_runs_recover_from_a_node_error(
    graphs: dict[tuple[str, int], Record], executions: list[Record]
) -> None:
    recovered = []
    for e in executions:
        if e["status"] != "COMPLETED" or not e["stats"]["node_error_count"]:
            continue
        nodes = e["node_executions"]
        (index,) = [i for i, n in enumerate(nodes) if n["status"] == "FAILED"]
        assert nodes[index]["error"]
        retry = next(n for n in nodes[index + 1 :] if n["node_id"] == nodes[index]["node_id"])
        assert retry["status"] == "COMPLETED"
        recovered.append(e)
    assert len({_name(graphs, e) for e in recovered}) == 4


def test_terminated_runs_and_unfinished_runs_on_the_last_day_only(
    executions: list[Record],
) -> None:
    terminated = [e for e in executions if e["status"] == "TERMINATED"]
    assert len({e["graph_id"] for e in terminated}) == 4
    assert all(e["node_executions"][-1]["status"] == "TERMINATED" for e in terminated)
    unfinished = [e for e in executions if e["status"] not in FINISHED]
    assert unfinished
    for e in unfinished:
        assert e["status"] in ("QUEUED", "RUNNING")
        assert _ts(e["created_at"]).date() == END
        assert e["ended_at"] is None
        assert (e["started_at"] is None) == (e["status"] == "QUEUED")


def test_timestamps_are_ordered_and_inside_the_requested_days(executions: list[Record]) -> None:
    first = datetime(2025, 1, 29, tzinfo=UTC)  # 45 days ending on END
    limit = datetime(2025, 3, 15, tzinfo=UTC)
    created = [_ts(e["created_at"]) for e in executions]
    assert created == sorted(created)
    assert first <= created[0] and created[-1] < limit
    for e in executions:
        start = _ts(e["started_at"] or e["created_at"])
        end = _ts(e["ended_at"]) if e["ended_at"] else limit
        assert _ts(e["created_at"]) <= start <= end <= limit
        for n in e["node_executions"]:
            times = [_ts(t) for t in (n["queued_at"], n["started_at"], n["ended_at"]) if t]
            assert times == sorted(times)
            assert start <= times[0] and times[-1] <= end


def test_stats_match_the_node_executions(executions: list[Record]) -> None:
    for e in executions:
        stats, nodes = e["stats"], e["node_executions"]
        assert stats["node_count"] == len(nodes)
        assert stats["node_error_count"] == sum(n["status"] == "FAILED" for n in nodes)
        assert isinstance(stats["cost"], int)
        if e["status"] in FINISHED:
            walltime = (_ts(e["ended_at"]) - _ts(e["started_at"])).total_seconds()
            assert stats["walltime"] == pytest.approx(walltime)
            assert 0 < stats["cputime"] <= stats["walltime"]


def test_most_finished_runs_carry_an_earlier_judgement(executions: list[Record]) -> None:
    finished = [e for e in executions if e["status"] in FINISHED]
    judged = [e for e in finished if e["stats"]["correctness_score"] is not None]
    assert 0.8 < len(judged) / len(finished) < 0.9
    for e in executions:
        score, activity = e["stats"].get("correctness_score"), e["stats"].get("activity_status")
        assert (score is None) == (activity is None)
        if score is not None:
            assert e["status"] in FINISHED
            assert score == round(score, 2) and 0 <= score <= 1
            assert "{" not in activity and len(activity) > 40
            assert (e["status"] == "FAILED") <= (score <= 0.2)
            assert (e["status"] == "TERMINATED") <= (0.2 <= score <= 0.4)
    clean = [
        e["stats"]["correctness_score"]
        for e in judged
        if e["status"] == "COMPLETED" and e["stats"]["correctness_score"] > 0.2
    ]
    assert min(clean) >= 0.6 and sum(clean) / len(clean) > 0.8


def test_only_the_email_triager_drops_in_quality(records: list[Record]) -> None:
    drops = _drops(records, END)
    assert drops.pop(DROP_AGENT) >= 0.20
    assert len(drops) == 3 and all(drop < 0.05 for drop in drops.values())


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_the_drop_holds_for_other_seeds_and_days(seed: int) -> None:
    end = END + timedelta(days=seed * 9)
    drops = _drops(list(generate_records(days=10, seed=seed, end=end)), end)
    assert drops.pop(DROP_AGENT) >= 0.20
    assert all(drop < 0.05 for drop in drops.values())


def test_end_defaults_to_today_utc() -> None:
    before = datetime.now(UTC).date()
    days = {r["created_at"][:10] for r in generate_records(days=1) if r["kind"] == "execution"}
    assert days <= {before.isoformat(), datetime.now(UTC).date().isoformat()}


@pytest.mark.parametrize("days", [0, -3, 366])
def test_days_out_of_range_are_rejected(days: int) -> None:
    with pytest.raises(ValueError, match="days must be between 1 and 365"):
        generate_records(days=days)
