"""A fake OpenAI-compatible chat server on 127.0.0.1, scripted per test."""

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from tests.local_server import ThreadedServer


@dataclass
class Reply:
    """One scripted reply: a chat answer with ``content``, or an HTTP error ``status``."""

    content: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error: str = "scripted failure"
    delay: float = 0.0
    # A body sent as is instead of a chat completion, e.g. an HTML error page.
    raw: str | None = None
    prompt_tokens: int = 420
    completion_tokens: int = 38
    # False: answer with text even when the request offers tools (an agent's last turn).
    tool_call: bool = True


def answer(
    summary: str = "The agent wrote the blog post you asked for.", score: Any = 0.9
) -> Reply:
    """A valid verdict as the model would send it."""
    return Reply(json.dumps({"summary": summary, "score": score}))


@dataclass
class RateLimit:
    """A provider key's token buckets, refilled per minute, announced in OpenAI's headers.

    A request over either bucket is answered 429 with the wait it needs in ``retry-after``.
    ``burst_seconds`` is how much of a minute's budget a bucket holds (OpenAI: all of it).
    ``announce`` replaces the headers' values, to send nonsense.
    """

    requests_per_minute: int
    tokens_per_minute: int
    burst_seconds: float = 60.0
    announce: dict[str, str] | None = None
    refused: int = 0
    answered: int = 0
    tokens_answered: int = 0

    def __post_init__(self) -> None:
        self._requests = self.requests_per_minute * self.burst_seconds / 60
        self._tokens = self.tokens_per_minute * self.burst_seconds / 60
        self._at = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        elapsed, self._at = now - self._at, now
        scale = self.burst_seconds / 60
        self._requests = min(
            self.requests_per_minute * scale,
            self._requests + elapsed * self.requests_per_minute / 60,
        )
        self._tokens = min(
            self.tokens_per_minute * scale, self._tokens + elapsed * self.tokens_per_minute / 60
        )

    def take(self, tokens: int) -> tuple[bool, dict[str, str]]:
        """Spend one request and ``tokens``, or refuse; return the headers to send."""
        self._refill()
        allowed = self._requests >= 1 and self._tokens >= tokens
        if allowed:
            self._requests -= 1
            self._tokens -= tokens
            self.answered += 1
            self.tokens_answered += tokens
        else:
            self.refused += 1
        headers = {
            "x-ratelimit-limit-requests": str(self.requests_per_minute),
            "x-ratelimit-remaining-requests": str(max(0, math.floor(self._requests))),
            "x-ratelimit-reset-requests": f"{60 / self.requests_per_minute:.3f}s",
            "x-ratelimit-limit-tokens": str(self.tokens_per_minute),
            "x-ratelimit-remaining-tokens": str(max(0, math.floor(self._tokens))),
            "x-ratelimit-reset-tokens": f"{tokens * 60 / self.tokens_per_minute:.3f}s",
        }
        if not allowed:
            wait = max(
                (1 - self._requests) * 60 / self.requests_per_minute,
                (tokens - self._tokens) * 60 / self.tokens_per_minute,
            )
            headers |= {
                "retry-after-ms": str(math.ceil(wait * 1000)),
                "retry-after": str(math.ceil(wait)),
            }
        return allowed, headers | (self.announce or {})


@dataclass
class Received:
    body: dict
    headers: dict[str, str]
    at: float


class FakeLLM:
    """Serve /v1/chat/completions from a script; record every request."""

    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.default: Reply = answer()
        # Decides the reply from the request body when no scripted reply is left.
        self.policy: Callable[[dict], Reply] | None = None
        self.received: list[Received] = []
        # Set to enforce and announce a rate limit on the answers that would succeed.
        self.rate_limit: RateLimit | None = None
        # What GET /v1/models lists, as Ollama and other local servers do.
        self.models: list[str] = []
        # Seconds GET /v1/models takes to answer.
        self.models_delay = 0.0
        routes = [
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
        ]
        app = Starlette(routes=routes)
        self._server = ThreadedServer(app)
        self.port = self._server.port
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "FakeLLM":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def then(self, *replies: Reply) -> "FakeLLM":
        self.script.extend(replies)
        return self

    @property
    def root_url(self) -> str:
        """Return the server's address without /v1, as Ollama's URL is given."""
        return self.base_url.removesuffix("/v1")

    async def _models(self, request: Request) -> JSONResponse:
        if self.models_delay:
            await asyncio.sleep(self.models_delay)
        data = [{"id": m, "object": "model", "owned_by": "library"} for m in self.models]
        return JSONResponse({"object": "list", "data": data})

    async def _chat(self, request: Request) -> JSONResponse | PlainTextResponse:
        body = await request.json()
        self.received.append(Received(body, dict(request.headers), time.monotonic()))
        if self.script:
            reply = self.script.popleft()
        else:
            reply = self.policy(body) if self.policy else self.default
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.raw is not None:
            return PlainTextResponse(reply.raw, status_code=reply.status)
        headers: dict[str, str] = {}
        if self.rate_limit is not None and reply.status == 200:
            allowed, headers = self.rate_limit.take(reply.prompt_tokens + reply.completion_tokens)
            if not allowed:
                error = {"error": {"message": "Rate limit reached", "type": "requests"}}
                return JSONResponse(error, status_code=429, headers=headers)
        if reply.status != 200:
            error = {"error": {"message": reply.error, "type": "server_error"}}
            return JSONResponse(error, status_code=reply.status, headers=reply.headers)
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        finish = "stop"
        if body.get("tools") and reply.tool_call:
            # Tool-mode structured output: the answer arrives as the tool's arguments.
            name = body["tools"][0]["function"]["name"]
            call = {"name": name, "arguments": reply.content}
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_1", "type": "function", "function": call}],
            }
            finish = "tool_calls"
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(self.received)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                    "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                },
            },
            headers=headers,
        )
