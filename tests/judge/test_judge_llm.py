"""The whole judge path against a fake OpenAI-compatible server on 127.0.0.1."""

import pytest
from pydantic import SecretStr

from execlens.executions.service import execution_service
from execlens.judge.ask import JudgeFailed
from execlens.judge.judge import Judge, JudgeRequest
from execlens.judge.prompts import DEFAULT_SYSTEM_PROMPT, DEFAULT_USER_PROMPT, prompt_hash
from execlens.judge.service import judge_service
from tests.fake_llm import Reply, answer
from tests.judge.conftest import OPENAI_KEY


async def _judge(database, settings, execution_id="run-1", **request):
    judge = Judge(settings)
    return await judge_service.judge_and_store(
        database, judge, execution_id, JudgeRequest(**request)
    )


async def test_valid_answer_is_stored_with_provenance(
    database, judge_settings, fake_llm, stored_run
):
    verdict = await _judge(database, judge_settings)
    assert verdict.activity_status == "The agent wrote the blog post you asked for."
    assert verdict.correctness_score == 0.9
    assert (verdict.judge, verdict.provider, verdict.model) == ("llm", "openai", "gpt-4.1-mini")
    assert (verdict.input_tokens, verdict.output_tokens) == (420, 38)
    assert verdict.cost_usd == pytest.approx(420 * 0.4 / 1e6 + 38 * 1.6 / 1e6)
    assert verdict.prompt_hash == prompt_hash(DEFAULT_SYSTEM_PROMPT, DEFAULT_USER_PROMPT)
    assert verdict.latency_ms is not None and verdict.digest_tokens > 0
    # The small run fits the budget whole: the judge read all of it.
    assert (verdict.evidence_kept, verdict.digest_truncated) == (1.0, False)

    (request,) = fake_llm.received
    assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert request.body["model"] == "gpt-4.1-mini"
    assert request.body["response_format"]["type"] == "json_schema"
    system, user = request.body["messages"]
    assert system == {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}
    assert "Agent: Blog writer" in user["content"]
    assert "Bees: a short history of the hive." in user["content"]

    async with database.read() as session:
        execution = await execution_service.get(session, "run-1")
        history = await judge_service.history(session, "run-1")
    assert execution.stats.correctness_score == 0.9
    assert execution.stats.activity_status == verdict.activity_status
    assert [v.correctness_score for v in history] == [0.9]
    assert history[0].evidence_kept == 1.0


async def test_invalid_json_is_re_asked_with_the_error(
    database, judge_settings, fake_llm, stored_run
):
    fake_llm.then(Reply("{not json"), answer(score=0.7))
    verdict = await _judge(database, judge_settings)
    assert verdict.correctness_score == 0.7
    assert len(fake_llm.received) == 2
    retry_messages = str(fake_llm.received[1].body["messages"][-1])
    assert "validation" in retry_messages.lower() or "json" in retry_messages.lower()


async def test_too_long_summary_is_re_asked(database, judge_settings, fake_llm, stored_run):
    rambling = " ".join(f"Sentence number {i}." for i in range(6))
    fake_llm.then(answer(summary=rambling), answer(summary="Wrote the post.", score=0.8))
    verdict = await _judge(database, judge_settings)
    assert verdict.activity_status == "Wrote the post."
    assert "at most 3 sentences" in str(fake_llm.received[1].body["messages"])


async def test_out_of_range_score_is_clamped_and_recorded(
    database, judge_settings, fake_llm, stored_run
):
    fake_llm.then(answer(score=1.7))
    verdict = await _judge(database, judge_settings)
    assert verdict.correctness_score == 1.0
    assert verdict.score_clamped_from == 1.7
    assert len(fake_llm.received) == 1


async def test_always_invalid_answers_fail_after_three_attempts(
    database, judge_settings, fake_llm, stored_run
):
    fake_llm.default = Reply('{"summary": ""}')
    with pytest.raises(JudgeFailed, match="no valid verdict after 3 attempts") as failure:
        await _judge(database, judge_settings)
    assert len(fake_llm.received) == 3
    assert "summary" in str(failure.value) or "score" in str(failure.value)
    async with database.read() as session:
        execution = await execution_service.get(session, "run-1")
        assert await judge_service.history(session, "run-1") == []
    assert execution.stats.correctness_score is None


async def test_rate_limit_is_retried_after_retry_after(
    database, judge_settings, fake_llm, stored_run
):
    fake_llm.then(Reply(status=429, headers={"retry-after": "1"}), answer(score=0.6))
    verdict = await _judge(database, judge_settings)
    assert verdict.correctness_score == 0.6
    first, second = fake_llm.received
    assert second.at - first.at >= 0.9


async def test_server_error_is_retried_by_the_sdk(database, judge_settings, fake_llm, stored_run):
    fake_llm.then(Reply(status=500), answer(score=0.5))
    verdict = await _judge(database, judge_settings)
    assert verdict.correctness_score == 0.5
    assert len(fake_llm.received) == 2


async def test_persistent_errors_fail_with_a_readable_reason(
    database, judge_settings, fake_llm, stored_run
):
    settings = judge_settings.model_copy(update={"judge_max_retries": 1})
    fake_llm.default = Reply(status=503)
    with pytest.raises(JudgeFailed, match="openai answered HTTP 503"):
        await _judge(database, settings)
    assert len(fake_llm.received) == 2


async def test_timeout_fails_without_hanging(database, judge_settings, fake_llm, stored_run):
    settings = judge_settings.model_copy(
        update={"judge_timeout_seconds": 0.3, "judge_max_retries": 0}
    )
    fake_llm.default = Reply(answer().content, delay=2.0)
    with pytest.raises(JudgeFailed, match="openai timed out"):
        await _judge(database, settings)


async def test_custom_prompts_are_used_and_hashed(database, judge_settings, fake_llm, stored_run):
    system = "Judge strictly."
    user = "Run of {{GRAPH_NAME}}:\n{{EXECUTION_DATA}}"
    verdict = await _judge(database, judge_settings, system_prompt=system, user_prompt=user)
    assert verdict.prompt_hash == prompt_hash(system, user)
    sent_system, sent_user = fake_llm.received[0].body["messages"]
    assert sent_system["content"] == system
    assert sent_user["content"].startswith("Run of Blog writer:\n{")


async def test_secrets_never_appear_in_failure_messages(
    database, judge_settings, fake_llm, stored_run
):
    settings = judge_settings.model_copy(
        update={"judge_max_retries": 0, "openai_api_key": SecretStr(OPENAI_KEY)}
    )
    fake_llm.default = Reply(status=401)
    with pytest.raises(JudgeFailed) as failure:
        await _judge(database, settings)
    assert OPENAI_KEY not in str(failure.value)


async def test_compatible_server_uses_its_own_key_and_the_chosen_output_mode(
    database, judge_settings, fake_llm, stored_run
):
    settings = judge_settings.model_copy(
        update={
            "compatible_base_url": fake_llm.base_url,
            "compatible_api_key": SecretStr("ollama-key"),
            "compatible_provider": "ollama",
            "compatible_models": "llama3.1:8b",
            "compatible_output_mode": "tool",
        }
    )
    fake_llm.then(answer("Your post is ready.", 0.75))
    verdict = await _judge(database, settings, model="llama3.1:8b")
    assert (verdict.provider, verdict.model, verdict.correctness_score) == (
        "ollama",
        "llama3.1:8b",
        0.75,
    )
    assert verdict.cost_usd == 0.0
    (request,) = fake_llm.received
    assert request.headers["authorization"] == "Bearer ollama-key"
    assert request.body["tools"][0]["function"]["name"]
    assert "response_format" not in request.body
