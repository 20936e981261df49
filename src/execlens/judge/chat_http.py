"""One chat completion from an OpenAI-compatible server over aiohttp, without the SDK.

A backfill makes thousands of identical-looking calls. Through pydantic-ai and the
openai SDK each cost about 4 ms of CPU (typed-dict transforms of the body, response
models, per-request options), and a bare httpx2 request still about 1.2 ms, more than all
of execlens's own work per run, which kept a job below the concurrency ÷ latency bound.
aiohttp's C parser answers the same request for about 0.35 ms. The request body is the
one pydantic-ai builds (``llm`` captures it once per model), so the wire format and the
structured output stay pydantic-ai's; this module only sends it and keeps the SDK's retry
rules: 408, 409, 429 and 5xx and connection errors are retried ``max_retries`` times,
after the server's ``retry-after-ms``/``retry-after`` when it asks for at most 120 s, else
after an exponential back-off (0.5 s doubling up to 8 s, less up to 25 % jitter). Every
answer's headers, also those of the retried 429s, go to ``observe`` for the pacing.
"""

import asyncio
import email.utils
import json
import math
import random
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from execlens.judge.ask import (
    FATAL_HTTP_STATUSES,
    RATE_LIMITED_HTTP_STATUSES,
    UNAVAILABLE_HTTP_STATUSES,
    JudgeFailed,
)

MAX_RETRY_AFTER_SECONDS = 120.0
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
OUTPUT_TOOL = "final_result"
MAX_CONNECTIONS = 1000

# Told every answer's status and headers (the provider's rate limits).
Observer = Callable[[int, Mapping[str, str]], None]


@dataclass(frozen=True)
class Completion:
    """What one chat completion said: the answer's text, its tool call's id, and usage."""

    text: str
    call_id: str | None
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Return the seconds the server asks to wait, or None when it does not say."""
    for header, divisor in (("retry-after-ms", 1000), ("retry-after", 1)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            return float(value) / divisor
        except ValueError:
            continue
    parsed = email.utils.parsedate_tz(headers.get("retry-after") or "")
    return None if parsed is None else email.utils.mktime_tz(parsed) - time.time()


def _should_retry(answer: _Answer) -> bool:
    wait = retry_after(answer.headers)
    if wait is not None and math.isfinite(wait) and wait > MAX_RETRY_AFTER_SECONDS:
        return False
    told = answer.headers.get("x-should-retry")
    if told in ("true", "false"):
        return told == "true"
    return answer.status in (408, 409, 429) or answer.status >= 500


def _delay(attempt: int, headers: Mapping[str, str] | None) -> float:
    wait = retry_after(headers) if headers is not None else None
    if wait is not None and math.isfinite(wait) and 0 < wait <= MAX_RETRY_AFTER_SECONDS:
        return wait
    backoff = min(INITIAL_RETRY_DELAY * 2.0**attempt, MAX_RETRY_DELAY)
    return backoff * (1 - 0.25 * random.random())


def env_proxy(url: str) -> str | None:
    """Return the proxy the environment names for ``url`` (HTTPS_PROXY, NO_PROXY...), as the SDK."""
    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def _unreachable(exc: Exception) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out (EXECLENS_JUDGE_TIMEOUT_SECONDS)"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "could not be reached"
    return f"request failed: {type(exc).__name__}"


class ChatCompletions:
    """Sends a fixed request body with new messages to one server's chat completions."""

    def __init__(
        self,
        *,
        url: str,
        headers: dict[str, str],
        template: tuple[str, str, str],
        provider: str,
        max_retries: int,
        timeout: float,
        observe: Observer | None = None,
    ) -> None:
        # One connection pool per model. Opened here, so in the running loop.
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS),
            # No cookies to keep between judge calls.
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        # Read once: aiohttp's trust_env reads the environment (and ~/.netrc) per request,
        # which doubled the CPU of a call.
        self.proxy = env_proxy(url)
        # As the SDK's: at most this long to connect, and between two reads of the answer.
        self.timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout)
        self.url = url
        self.headers = headers
        # The request body's JSON around the system prompt and the user prompt.
        self.template = template
        self.provider = provider
        self.max_retries = max_retries
        self.observe = observe

    async def complete(self, system: str, user: str) -> Completion:
        """Ask once (with the SDK's retries); raise JudgeFailed when no completion comes."""
        before, between, after = self.template
        content = f"{before}{_json_text(system)}{between}{_json_text(user)}{after}".encode()
        answer = await self._send(content)
        try:
            return _completion(json.loads(answer.body))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            # An HTML error page from a proxy, a truncated body: the provider's fault.
            raise JudgeFailed(
                f"{self.provider} sent a response that is not a chat completion", unavailable=True
            ) from exc

    async def aclose(self) -> None:
        """Close the connections."""
        await self.session.close()

    async def _post(self, content: bytes) -> _Answer:
        """POST once; return the answer, read in full."""
        async with self.session.post(
            self.url, data=content, headers=self.headers, timeout=self.timeout, proxy=self.proxy
        ) as response:
            answer = _Answer(response.status, response.headers, await response.read())
        if self.observe is not None:
            self.observe(answer.status, answer.headers)
        return answer

    async def _send(self, content: bytes) -> _Answer:
        """POST with retries; return the 2xx answer or raise JudgeFailed."""
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                answer = await self._post(content)
            except (aiohttp.ClientError, TimeoutError) as exc:
                if last:
                    raise JudgeFailed(
                        f"{self.provider} {_unreachable(exc)}", unavailable=True
                    ) from exc
                await asyncio.sleep(_delay(attempt, None))
                continue
            if 200 <= answer.status < 300:
                return answer
            if last or not _should_retry(answer):
                status = answer.status
                raise JudgeFailed(
                    f"{self.provider} answered HTTP {status}",
                    fatal=status in FATAL_HTTP_STATUSES,
                    unavailable=status in UNAVAILABLE_HTTP_STATUSES,
                    rate_limited=status in RATE_LIMITED_HTTP_STATUSES,
                )
            await asyncio.sleep(_delay(attempt, answer.headers))
        raise AssertionError("unreachable: the last attempt returns or raises")


def _json_text(text: str) -> str:
    """Return ``text`` as the inside of a JSON string literal."""
    return json.dumps(text)[1:-1]


def _completion(data: dict[str, Any]) -> Completion:
    """Read the answer's text (or the output tool's arguments) and the usage."""
    message = data["choices"][0]["message"]
    usage = data.get("usage") or {}
    text, call_id = message.get("content") or "", None
    for call in message.get("tool_calls") or []:
        if call["function"]["name"] == OUTPUT_TOOL:
            text, call_id = call["function"]["arguments"], call["id"]
            break
    return Completion(
        text,
        call_id,
        int(usage.get("prompt_tokens") or 0),
        int(usage.get("completion_tokens") or 0),
    )
