"""What the run page reads: every verdict with its provenance, and the digest as judged."""

from datetime import UTC, datetime

from execlens.judge.schemas import Verdict
from execlens.judge.service import judge_service
from tests.jobs.conftest import run, store


async def test_verdicts_of_a_run_newest_first_with_provenance(database, client, admin_headers):
    await store(database, [run(1)])
    for minute, score in ((0, 0.3), (5, 0.8)):
        verdict = Verdict(
            execution_id="run-001",
            activity_status=f"Scored {score}.",
            correctness_score=score,
            judge="llm",
            judge_version="7",
            provider="openai",
            model="gpt-test",
            prompt_hash="ab" * 8,
            input_tokens=120,
            output_tokens=12,
            cost_usd=0.0004,
            latency_ms=850,
            digest_tokens=100,
            digest_truncated=False,
            evidence_kept=0.75,
            created_at=datetime(2026, 11, 20, 12, minute, tzinfo=UTC),
        )
        async with database.write() as session:
            await judge_service.store(session, [verdict])

    response = await client.get("/api/executions/run-001/verdicts", headers=admin_headers)

    assert response.status_code == 200
    newest, oldest = response.json()
    assert (newest["correctness_score"], oldest["correctness_score"]) == (0.8, 0.3)
    assert {k: newest[k] for k in ("model", "prompt_hash", "judge_version", "evidence_kept")} == {
        "model": "gpt-test",
        "prompt_hash": "ab" * 8,
        "judge_version": "7",
        "evidence_kept": 0.75,
    }
    assert (newest["input_tokens"], newest["cost_usd"], newest["latency_ms"]) == (120, 0.0004, 850)


async def test_digest_is_the_text_the_judge_reads_with_what_was_cut(
    database, client, admin_headers
):
    long_value = "word " * 40_000
    execution = run(2)
    execution["node_executions"][0]["output"] = {"output": long_value}
    await store(database, [run(1), execution])

    whole = (await client.get("/api/executions/run-001/digest", headers=admin_headers)).json()
    cut = (await client.get("/api/executions/run-002/digest", headers=admin_headers)).json()

    assert "A post written for run-001." in whole["text"]
    assert whole["cuts"] == [] and whole["evidence_kept"] == 1.0
    assert whole["tokens"] <= whole["budget"] and whole["model"]
    assert cut["cuts"] and cut["evidence_kept"] < 1
    assert cut["tokens"] <= cut["budget"] < 40_000


async def test_unknown_run_is_404_for_verdicts_and_digest(client, admin_headers):
    for path in ("verdicts", "digest"):
        response = await client.get(f"/api/executions/nope/{path}", headers=admin_headers)
        assert response.status_code == 404
        assert "nope" in response.json()["detail"]


async def test_a_nul_in_the_run_id_is_422_naming_it(client, admin_headers):
    for path in ("verdicts", "digest"):
        response = await client.get(f"/api/executions/a%00b/{path}", headers=admin_headers)
        assert response.status_code == 422
        assert response.json()["message"].startswith("execution_id: contains a NUL character")


async def test_digest_for_an_unknown_model_is_422_naming_it(database, client, admin_headers):
    await store(database, [run(1)])
    response = await client.get(
        "/api/executions/run-001/digest", params={"model_name": "no-such"}, headers=admin_headers
    )
    assert response.status_code == 422
    assert "no-such" in response.json()["detail"]
