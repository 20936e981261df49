"""The first request of a verdict goes straight to OpenAI-compatible servers: same wire."""

import asyncio
import json

import httpx2
import pytest
from pydantic import SecretStr

from execlens.errors import UserError
from execlens.judge.ask import JudgeFailed
from execlens.judge.judge import Judge, JudgeRequest
from execlens.judge.limits import provider_key
from execlens.judge.service import judge_service
from tests.fake_llm import RateLimit, Reply, answer


async def _judge(database, settings, **request):
    judge = Judge(settings)
    try:
        return await judge_service.judge_and_store(
            database, judge, "run-1", JudgeRequest(**request)
        )
    finally:
        await judge.aclose()


def _compatible(settings, fake_llm, mode):
    return settings.model_copy(
        update={
            "compatible_base_url": fake_llm.base_url,
            "compatible_api_key": SecretStr("ollama-key"),
            "compatible_provider": "ollama",
            "compatible_models": "llama3.1:8b",
            "compatible_output_mode": mode,
        }
    )


async def test_re_ask_sends_the_settings_of_the_first_request(
    database, judge_settings, fake_llm, stored_run
):
    fake_llm.then(Reply("{not json"), answer(score=0.7))
    verdict = await _judge(database, judge_settings)
    assert verdict.correctness_score == 0.7
    assert (verdict.input_tokens, verdict.output_tokens) == (840, 76)
    first, second = (r.body for r in fake_llm.received)
    assert {k: v for k, v in first.items() if k != "messages"} == {
        k: v for k, v in second.items() if k != "messages"
    }
    assert first["messages"] == second["messages"][:2]
    assert second["messages"][2] == {"role": "assistant", "content": "{not json"}
    assert first["response_format"]["json_schema"]["schema"]["required"] == ["summary", "score"]


async def test_tool_mode_re_ask_answers_the_output_tool_call(
    database, judge_settings, fake_llm, stored_run
):
    settings = _compatible(judge_settings, fake_llm, "tool")
    fake_llm.then(Reply('{"summary": ""}'), answer("Your post is ready.", 0.75))
    verdict = await _judge(database, settings, model="llama3.1:8b")
    assert (verdict.activity_status, verdict.correctness_score) == ("Your post is ready.", 0.75)
    first, second = (r.body for r in fake_llm.received)
    assert first["tools"] == second["tools"]
    call, result = second["messages"][2:4]
    assert call["tool_calls"][0]["id"] == "call_1"
    assert result["role"] == "tool" and result["tool_call_id"] == "call_1"
    assert "summary" in result["content"]


async def test_prompted_mode_puts_the_schema_in_the_prompt(
    database, judge_settings, fake_llm, stored_run
):
    settings = _compatible(judge_settings, fake_llm, "prompted")
    fake_llm.then(Reply('Here you go: {"summary": "Done.", "score": 0.4} Bye.'))
    verdict = await _judge(database, settings, model="llama3.1:8b")
    assert (verdict.activity_status, verdict.correctness_score) == ("Done.", 0.4)
    (request,) = fake_llm.received
    assert "tools" not in request.body and "json_schema" not in str(request.body)
    assert "correctness" in str(request.body["messages"]).lower() or "score" in str(
        request.body["messages"]
    )


async def test_retry_after_beyond_two_minutes_is_not_waited_for(
    database, judge_settings, fake_llm, stored_run
):
    fake_llm.then(Reply(status=429, headers={"retry-after": "600"}), answer())
    with pytest.raises(JudgeFailed, match="openai answered HTTP 429") as failure:
        await _judge(database, judge_settings)
    assert failure.value.unavailable
    assert len(fake_llm.received) == 1


async def test_unreachable_server_is_reported_as_unavailable(
    database, judge_settings, stored_run, unused_tcp_port
):
    settings = judge_settings.model_copy(
        update={"openai_base_url": f"http://127.0.0.1:{unused_tcp_port}/v1", "judge_max_retries": 0}
    )
    with pytest.raises(JudgeFailed, match="openai could not be reached") as failure:
        await _judge(database, settings)
    assert failure.value.unavailable and not failure.value.fatal


async def test_every_direct_answer_tells_the_pacing_the_announced_limits(
    database, judge_settings, fake_llm, stored_run
):
    fake_llm.rate_limit = RateLimit(600, 90_000)  # announced on the answers that succeed
    fake_llm.then(Reply(status=429, headers={"retry-after-ms": "50"}), answer())
    judge = Judge(judge_settings)
    try:
        verdict = await judge_service.judge_and_store(database, judge, "run-1", JudgeRequest())
        state = judge.limits.state(provider_key(judge_settings, "openai"))
        # The refusal the direct path retried by itself was seen too: it held new calls.
        assert state.blocked_until > 0
    finally:
        await judge.aclose()
    assert verdict.correctness_score == 0.9
    assert len(fake_llm.received) == 2
    assert (state.requests_per_minute, state.tokens_per_minute) == (600, 90_000)


async def test_warming_a_model_that_cannot_be_used_changes_nothing(
    database, judge_settings, stored_run
):
    judge = Judge(judge_settings)
    try:
        judge.warm("no-such-model")
        with pytest.raises(UserError, match="model_name 'no-such-model' is not available"):
            await judge_service.judge_and_store(
                database, judge, "run-1", JudgeRequest(model="no-such-model")
            )
    finally:
        await judge.aclose()


async def test_a_warmed_model_answers_the_first_call(
    database, judge_settings, fake_llm, stored_run
):
    fake_llm.then(answer(score=0.6))
    judge = Judge(judge_settings)
    try:
        judge.warm(None)  # the configured model
        verdict = await judge_service.judge_and_store(database, judge, "run-1", JudgeRequest())
    finally:
        await judge.aclose()
    assert (verdict.model, verdict.correctness_score) == ("gpt-4.1-mini", 0.6)
    assert len(fake_llm.received) == 1


async def test_a_client_passed_to_the_judge_carries_every_request(
    database, judge_settings, fake_llm, stored_run
):
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        content = json.dumps({"summary": "Done.", "score": 0.5})
        return httpx2.Response(
            200,
            json={
                "id": "c1",
                "object": "chat.completion",
                "created": 0,
                "model": "gpt-4.1-mini",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            },
        )

    client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    judge = Judge(judge_settings, http_client=client)
    try:
        verdict = await judge_service.judge_and_store(database, judge, "run-1", JudgeRequest())
    finally:
        await judge.aclose()
        await client.aclose()
    assert verdict.correctness_score == 0.5
    assert len(seen) == 1 and not fake_llm.received


async def test_a_proxy_named_in_the_environment_carries_the_calls(
    database, judge_settings, stored_run, monkeypatch
):
    lines: list[bytes] = []
    content = json.dumps({"summary": "Done.", "score": 0.3})
    body = json.dumps(
        {
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-4.1-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5},
        }
    ).encode()

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines.append(head.split(b"\r\n")[0])
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if b"content-length" in line.lower()
        )
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
        writer.write(b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    settings = judge_settings.model_copy(
        update={"openai_base_url": "http://judge.invalid/v1", "judge_max_retries": 0}
    )
    async with server:
        verdict = await _judge(database, settings)
    assert verdict.correctness_score == 0.3
    assert lines == [b"POST http://judge.invalid/v1/chat/completions HTTP/1.1"]
