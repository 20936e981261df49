"""`execlens labels import` and `execlens agreement`: all or nothing, line-numbered errors."""

import getpass
import json

import pytest

from tests.labels.conftest import judge_runs, run, store


@pytest.fixture
async def runs(database) -> None:
    await store(database, [run(n) for n in range(1, 5)])


def jsonl(path, *records) -> str:
    path.write_text("".join(json.dumps(r) + "\n" if isinstance(r, dict) else r for r in records))
    return str(path)


async def labels_of(client, headers, execution_id: str) -> list[dict]:
    return (await client.get(f"/api/executions/{execution_id}/labels", headers=headers)).json()


async def test_import_stores_every_label_as_the_person_running_it(
    cli, client, admin_headers, runs, tmp_path
):
    file = jsonl(
        tmp_path / "labels.jsonl",
        {"execution_id": "run-001", "score": "pass", "note": "the post is good"},
        "\n",
        {"execution_id": "run-002", "score": 0.25},
    )

    result = await cli("labels", "import", file)

    assert result.exit_code == 0, result.output
    assert "imported 2 labels" in result.output
    [label] = await labels_of(client, admin_headers, "run-001")
    assert (label["score"], label["note"]) == (1.0, "the post is good")
    assert label["labeler"] == f"cli:{getpass.getuser()}"
    assert (await labels_of(client, admin_headers, "run-002"))[0]["score"] == 0.25
    events = (await client.get("/api/audit", headers=admin_headers)).json()["items"]
    assert [(e["action"], e["details"]) for e in events] == [("label.import", {"labels": 2})]


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"execution_id": "run-002", "score": 1.5}\n', "line 2: score: Input should be less than"),
        ('{"execution_id": "run-002", "score": 1\n', "line 2: not valid JSON"),
        ('{"execution_id": "run-002"}\n', "line 2: score: Field required"),
        ('{"execution_id": "nope", "score": 1}\n', "line 2: execution_id: no execution 'nope'"),
        ('{"execution_id": "run-002", "score": 1, "who": "x"}\n', "line 2: who: Extra inputs"),
    ],
)
async def test_a_bad_line_is_named_and_nothing_is_written(
    cli, client, admin_headers, runs, tmp_path, bad_line, message
):
    file = jsonl(tmp_path / "labels.jsonl", {"execution_id": "run-001", "score": 1}, bad_line)

    result = await cli("labels", "import", file)

    assert result.exit_code == 1
    assert message in result.output
    assert "nothing was written" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert await labels_of(client, admin_headers, "run-001") == []


async def test_a_missing_file_is_one_readable_line(cli, tmp_path):
    result = await cli("labels", "import", str(tmp_path / "none.jsonl"))

    assert result.exit_code == 1
    assert "no such file" in result.output


async def test_agreement_prints_each_judge_configuration(cli, database, runs, tmp_path):
    file = jsonl(
        tmp_path / "labels.jsonl",
        {"execution_id": "run-001", "score": 1},
        {"execution_id": "run-002", "score": 0},
    )
    await cli("labels", "import", file)
    await judge_runs(database, {"run-001": 0.9, "run-002": 0.2}, model="gpt-good")

    result = await cli("agreement")

    assert result.exit_code == 0, result.output
    assert "agreement with 2 labelled runs" in result.output
    assert "openai/gpt-good" in result.output
    assert "accuracy 1.00" in result.output
    assert "pass judged pass 1, fail judged pass 0, fail judged fail 1" in result.output


async def test_agreement_without_verdicts_says_what_to_do(cli, runs):
    result = await cli("agreement")

    assert result.exit_code == 0
    assert "none judged yet" in result.output
