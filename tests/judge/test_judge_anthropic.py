"""Anthropic through its SDK, intercepted at the HTTP boundary with an httpx2 transport."""

import json

import httpx2
from pydantic import SecretStr

from execlens.judge.judge import Judge, JudgeRequest
from execlens.judge.service import judge_service
from tests.judge.conftest import ANTHROPIC_KEY, OPENAI_KEY


async def test_anthropic_model_uses_anthropic_credentials_and_tool_output(
    database, judge_settings, stored_run
):
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        body = json.loads(request.content)
        tool = body["tools"][0]["name"]
        verdict = {"summary": "You got a finished blog post.", "score": 0.85}
        return httpx2.Response(
            200,
            json={
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "tool_use", "id": "toolu_1", "name": tool, "input": verdict}],
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": {"input_tokens": 500, "output_tokens": 40},
            },
        )

    settings = judge_settings.model_copy(
        update={"anthropic_api_key": SecretStr(ANTHROPIC_KEY), "judge_model": None}
    )
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    judge = Judge(settings, http_client=client)
    verdict = await judge_service.judge_and_store(
        database, judge, stored_run, JudgeRequest(model="claude-haiku-4-5")
    )
    await client.aclose()

    assert verdict.provider == "anthropic"
    assert verdict.model.startswith("claude-haiku-4-5")
    assert verdict.correctness_score == 0.85
    assert (verdict.input_tokens, verdict.output_tokens) == (500, 40)
    assert verdict.cost_usd is not None and verdict.cost_usd > 0

    (request,) = seen
    assert request.url.path == "/v1/messages"
    # anthropic 2.x sends the key as a bearer token or as x-api-key, by version.
    sent = request.headers.get("x-api-key") or request.headers["authorization"]
    assert sent.removeprefix("Bearer ") == ANTHROPIC_KEY
    assert OPENAI_KEY not in str(request.headers)
