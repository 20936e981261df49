"""Request limits: a body size ceiling (413) and per-principal rate limiting (429)."""

import json
import math
import time
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Buckets of principals idle long enough to be full again are dropped past this many.
MAX_TRACKED_PRINCIPALS = 10_000


class BodyTooLarge(HTTPException):
    """The request body exceeds the ceiling (413)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            413,
            detail=f"request body is larger than the {_size(max_bytes)} limit "
            "(EXECLENS_MAX_BODY_BYTES); send fewer executions per request",
        )


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n} bytes"


class BodySizeLimit:
    """Answer 413 when a body exceeds ``max_bytes``, counting bytes as they arrive."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = BodyTooLarge(self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            # Refused before a single body byte is read.
            await _send_error(send, too_large)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException, so FastAPI answers it instead of calling it a bad body.
                    raise too_large
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _send_error(send, too_large)


async def _send_error(send: Send, error: HTTPException) -> None:
    body = json.dumps({"detail": error.detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """Token buckets per principal: ``per_minute`` requests a minute, in bursts up to that.

    State lives in this process: with several server processes each counts on its own.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def acquire(self, key: str) -> float:
        """Take one request from ``key``'s bucket; return 0, or the seconds until one is free."""
        if self.per_minute == 0:
            return 0.0
        now = self._clock()
        tokens, updated = self._buckets.get(key, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - updated) * self._rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self._rate
        self._buckets[key] = (tokens - 1, now)
        if len(self._buckets) > MAX_TRACKED_PRINCIPALS:
            self._forget_idle(now)
        return 0.0

    def check(self, key: str) -> None:
        """Raise 429 with Retry-After when ``key`` is over its limit."""
        wait = self.acquire(key)
        if wait > 0:
            raise HTTPException(
                429,
                detail=f"rate limit of {self.per_minute} requests per minute exceeded; "
                "retry after the Retry-After seconds (EXECLENS_RATE_LIMIT_PER_MINUTE)",
                headers={"Retry-After": str(math.ceil(wait))},
            )

    def _forget_idle(self, now: float) -> None:
        full_after = self.per_minute / self._rate
        self._buckets = {
            key: (tokens, updated)
            for key, (tokens, updated) in self._buckets.items()
            if now - updated < full_after
        }
