"""`execlens judge-eval`: candidate judges on the labelled runs, their agreement side by side."""

import json
import re

import httpx2

from execlens.db.engine import Database
from tests.fake_llm import FakeLLM, Reply, answer
from tests.jobs.conftest import run, run_id_of, store
from tests.jobs.test_cli import llm_env

GOOD, BAD = [1, 2, 3], [4, 5, 6]
WIDE = {"COLUMNS": "200"}


def _labels_file(tmp_path, labels: dict[int, float]):
    path = tmp_path / "labels.jsonl"
    lines = [json.dumps({"execution_id": f"run-{n:03d}", "score": s}) for n, s in labels.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _row(output: str, name: str) -> list[str]:
    """Return the cells of the table row ``name``, one per candidate."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if cells[0] == name:
            return cells[1:]
    raise AssertionError(f"no row {name!r} in:\n{output}")


def _by_model(body: dict) -> Reply:
    """A sharp judge (mini) scores the good runs high; a contrary one (nano) the bad ones."""
    good = int(run_id_of(body).removeprefix("run-")) in GOOD
    sharp = body["model"] == "gpt-4.1-mini"
    return answer("The agent wrote a post.", 0.9 if good == sharp else 0.1)


async def test_two_models_are_compared_on_the_file_labels_without_touching_the_scores(
    cli, database: Database, client: httpx2.AsyncClient, admin_headers, fake_llm: FakeLLM, tmp_path
):
    await store(database, [run(n) for n in GOOD + BAD])
    labels = _labels_file(tmp_path, {n: 1.0 for n in GOOD} | {n: 0.0 for n in BAD})
    fake_llm.policy = _by_model
    env = llm_env(fake_llm) | WIDE

    result = await cli(
        "judge-eval",
        "--labels",
        str(labels),
        "--model",
        "gpt-4.1-mini",
        "--model",
        "gpt-4.1-nano",
        "--max-cost",
        "1",
        extra_env=env,
    )

    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "openai:gpt-4.1-mini" in line)
    assert header.index("openai:gpt-4.1-mini") < header.index("openai:gpt-4.1-nano")
    assert _row(result.stdout, "n") == ["6", "6"]
    assert _row(result.stdout, "ROC AUC") == ["1.00", "0.00"]
    assert _row(result.stdout, "Spearman") == ["1.00", "-1.00"]
    assert _row(result.stdout, "MAE") == ["0.10", "0.90"]
    assert _row(result.stdout, "accuracy @ 0.5") == ["1.00", "0.00"]
    assert _row(result.stdout, "kappa @ 0.5") == ["1.00", "-1.00"]
    assert {r.body["model"] for r in fake_llm.received} == {"gpt-4.1-mini", "gpt-4.1-nano"}
    assert len(fake_llm.received) == 12

    # The candidates' verdicts are history: the runs still have no current score ...
    page = (await client.get("/api/executions?limit=10", headers=admin_headers)).json()
    assert {e["id"]: e["stats"]["correctness_score"] for e in page["items"]} == {
        f"run-{n:03d}": None for n in GOOD + BAD
    }
    jobs = (await client.get("/api/analytics/jobs", headers=admin_headers)).json()["items"]
    assert sorted((j["model"], j["evaluation"], j["status"]) for j in jobs) == [
        ("gpt-4.1-mini", True, "completed"),
        ("gpt-4.1-nano", True, "completed"),
    ]
    # ... and the file's labels were not stored.
    stored = await cli("agreement", extra_env=env)
    assert "0 labelled runs" in stored.stdout


async def test_stored_labels_and_a_cost_cap_that_pauses_the_candidate(
    cli, database: Database, fake_llm: FakeLLM, tmp_path
):
    await store(database, [run(n) for n in GOOD + BAD])
    env = llm_env(fake_llm) | WIDE
    imported = await cli("labels", "import", str(_labels_file(tmp_path, {1: 1.0, 4: 0.0})))
    assert imported.exit_code == 0, imported.output

    result = await cli("judge-eval", "--max-cost", "0.0000001", extra_env=env)

    assert result.exit_code == 1, result.output
    [state] = _row(result.stdout, "job")
    assert "paused" in state
    [judged] = _row(result.stdout, "n")
    assert int(judged) < 2
    # The stored labels decided which runs were judged: only those two.
    assert {run_id_of(r.body) for r in fake_llm.received} <= {"run-001", "run-004"}


async def test_prompt_files_given_per_model_make_two_candidates_of_one_model(
    cli, database: Database, fake_llm: FakeLLM, tmp_path
):
    await store(database, [run(n) for n in GOOD + BAD])
    labels = _labels_file(tmp_path, {n: 1.0 for n in GOOD} | {n: 0.0 for n in BAD})
    strict, lenient = tmp_path / "strict.txt", tmp_path / "lenient.txt"
    strict.write_text("You are a strict judge of agent runs.")
    lenient.write_text("You are a lenient judge of agent runs.")

    def by_prompt(body: dict) -> Reply:
        system = json.dumps(body["messages"][0])
        good = int(run_id_of(body).removeprefix("run-")) in GOOD
        return answer("Done.", 0.9 if good or "lenient" in system else 0.1)

    fake_llm.policy = by_prompt
    result = await cli(
        "judge-eval",
        "--labels",
        str(labels),
        "--model",
        "gpt-4.1-mini",
        "--model",
        "gpt-4.1-mini",
        "--system-prompt-file",
        str(strict),
        "--system-prompt-file",
        str(lenient),
        extra_env=llm_env(fake_llm) | WIDE,
    )

    assert result.exit_code == 0, result.output
    hashes = re.findall(r"prompts ([0-9a-f]{8})", result.stdout)
    assert len(set(hashes)) == 2
    assert _row(result.stdout, "accuracy @ 0.5") == ["1.00", "0.50"]


async def test_bad_input_is_one_line_and_starts_nothing(
    cli, database: Database, fake_llm: FakeLLM, tmp_path
):
    await store(database, [run(n) for n in GOOD])
    env = llm_env(fake_llm)
    labels = _labels_file(tmp_path, {1: 1.0})
    unknown_run = tmp_path / "unknown.jsonl"
    unknown_run.write_text(
        '{"execution_id": "run-001", "score": 1}\n{"execution_id": "nope", "score": 0}\n'
    )
    out_of_range = tmp_path / "range.jsonl"
    out_of_range.write_text('{"execution_id": "run-001", "score": 2}\n')
    cases = [
        (["--labels", str(labels), "--model", "gpt-99"], "model_name 'gpt-99' is not available"),
        (["--labels", str(labels), "--model", "claude-haiku-4-5"], "anthropic provider"),
        (["--labels", str(tmp_path / "missing.jsonl")], "--labels: "),
        (["--labels", str(unknown_run)], "line 2: execution_id: no execution 'nope'"),
        (["--labels", str(out_of_range)], "line 1: score"),
        ([], "no labelled runs"),
        (["--labels", str(labels), "--max-cost", "0"], "--max-cost: "),
        (
            ["--labels", str(labels), "--system-prompt-file", str(tmp_path / "none.txt")],
            "--system-prompt-file: ",
        ),
    ]
    for args, expected in cases:
        result = await cli("judge-eval", *args, extra_env=env)

        assert result.exit_code != 0, (args, result.output)
        [line] = result.output.strip().splitlines()
        assert expected in line, (args, line)
    assert fake_llm.received == []
    jobs = await cli("agreement", extra_env=env)
    assert "none judged yet" in jobs.stdout
