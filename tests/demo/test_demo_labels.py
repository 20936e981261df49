"""The demo's labels: what its generator meant each run to be, and the agreement it ends with."""

import json

from tests.fake_llm import FakeLLM, answer
from tests.jobs.test_cli import llm_env
from tests.judge.conftest import fake_llm  # noqa: F401  (fixture)


async def test_demo_data_writes_the_intended_label_of_every_finished_run(cli, tmp_path):
    data, labels = tmp_path / "demo.jsonl", tmp_path / "labels.jsonl"

    result = await cli(
        "demo-data",
        "--days",
        "3",
        "--end",
        "2026-11-20",
        "--out",
        str(data),
        "--labels",
        str(labels),
    )

    assert result.exit_code == 0, result.output
    runs = [json.loads(line) for line in data.read_text().splitlines()]
    finished = {
        r["id"]: r["status"]
        for r in runs
        if r["kind"] == "execution" and r["status"] in ("COMPLETED", "FAILED", "TERMINATED")
    }
    scores = {
        label["execution_id"]: label["score"]
        for label in map(json.loads, labels.read_text().splitlines())
    }
    assert scores.keys() == finished.keys()
    assert all(scores[key] == 0.0 for key, status in finished.items() if status != "COMPLETED")
    assert set(scores.values()) == {0.0, 1.0}
    good = sum(scores.values()) / len(scores)
    assert 0.5 < good < 0.95


async def test_the_labels_import_back(cli, database, tmp_path):
    data, labels = tmp_path / "demo.jsonl", tmp_path / "labels.jsonl"
    await cli("demo-data", "--days", "2", "--out", str(data), "--labels", str(labels))
    await cli("import", str(data))

    result = await cli("labels", "import", str(labels))

    assert result.exit_code == 0, result.output
    assert f"imported {len(labels.read_text().splitlines()):,} labels" in result.output


async def test_demo_ends_with_the_agreement_of_its_judge(
    cli,
    database,
    fake_llm: FakeLLM,  # noqa: F811
):
    fake_llm.default = answer("The agent did what was asked.", 0.9)

    result = await cli("demo", "--days", "3", "--judge-per-agent", "2", extra_env=llm_env(fake_llm))

    assert result.exit_code == 0, result.output
    tail = result.stdout[result.stdout.index("agreement with") :]
    assert "labelled runs" in tail
    assert "openai/gpt-4.1-mini" in tail
    assert "accuracy" in tail
    # A hosted model needs no warning about the embedded one.
    assert "for trying the pipeline" not in result.stdout
