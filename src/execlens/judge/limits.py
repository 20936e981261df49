"""The rate limits a provider announces, read from its answers' headers, per provider key.

OpenAI (and OpenAI-compatible servers) send ``x-ratelimit-limit-/remaining-/reset-
requests`` and ``-tokens``; Anthropic sends ``anthropic-ratelimit-requests-limit`` and
the like; both send ``retry-after`` with a 429. The judge's HTTP client hands every
answer's headers to ``ProviderLimits.observe``; the job pacing reads what they said.

This module imports no SDK: the jobs read it without loading one.
"""

import hashlib
import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

from execlens.config import Settings

log = logging.getLogger("execlens.judge")

# Limits beyond these are nonsense, not a generous tier: they are ignored.
MAX_REQUESTS_PER_MINUTE = 10_000_000
MAX_TOKENS_PER_MINUTE = 10_000_000_000
# A wait longer than this is not believed (the openai SDK draws the same line).
MAX_RETRY_AFTER_SECONDS = 120.0
# Without a usable retry-after, a 429 or 503 holds new calls back this long.
DEFAULT_BACKOFF_SECONDS = 1.0
BACKOFF_STATUSES = (429, 503, 529)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DEFAULT_URLS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}


class Nonsense(ValueError):
    """A rate-limit header that cannot be believed."""


def provider_key(settings: Settings, provider: str) -> str | None:
    """Return the budget key of a provider: a hash of its base URL and API key, never the key.

    None for the embedded model, which has no rate limit but its own CPU.
    """
    if provider == "local":
        return None
    if provider == "anthropic":
        url, secret = _DEFAULT_URLS["anthropic"], settings.anthropic_api_key
    elif provider == "openai":
        url, secret = settings.openai_base_url or _DEFAULT_URLS["openai"], settings.openai_api_key
    else:
        url, secret = settings.compatible_base_url or "", settings.compatible_api_key
    key = secret.get_secret_value() if secret else ""
    digest = hashlib.sha256(f"{provider}\n{url.rstrip('/')}\n{key}".encode()).hexdigest()
    return f"{provider}:{digest[:24]}"


def _duration(text: str) -> float:
    """Return the seconds in ``1s``, ``6m0s``, ``20ms``, a plain number, or an RFC 3339 time."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if math.isnan(seconds) and (parts := _DURATION.findall(text)):
        if "".join(n + u for n, u in parts) != text:
            raise Nonsense(text)
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    elif math.isnan(seconds):
        try:
            # A reset time already past means now.
            seconds = max(0.0, datetime.fromisoformat(text).timestamp() - time.time())
        except ValueError:
            raise Nonsense(text) from None
    if not math.isfinite(seconds) or seconds < 0 or seconds > 86_400:
        raise Nonsense(text)
    return seconds


def _count(text: str, most: float) -> float:
    """Return a limit or remaining count, or raise Nonsense."""
    try:
        value = float(text)
    except ValueError:
        raise Nonsense(text) from None
    if not math.isfinite(value) or value < 0 or value > most:
        raise Nonsense(text)
    return value


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Return the wait a refusal asks for: retry-after-ms, retry-after seconds or HTTP date."""
    if (ms := headers.get("retry-after-ms")) is not None:
        return _duration(ms) / 1000
    text = headers.get("retry-after")
    if text is None:
        return None
    try:
        return _duration(text)
    except Nonsense:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            raise Nonsense(text) from None
        return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True)
class Announced:
    """What one answer said about the key's limits; None where it said nothing."""

    requests_limit: float | None = None
    requests_remaining: float | None = None
    requests_reset: float | None = None
    tokens_limit: float | None = None
    tokens_remaining: float | None = None
    tokens_reset: float | None = None


def _header(headers: Mapping[str, str], *names: str) -> str | None:
    return next((headers[n] for n in names if n in headers), None)


def _read(headers: Mapping[str, str], kind: str, most: float) -> tuple[float | None, ...]:
    """Return the limit, remaining and reset (seconds) announced for requests or tokens."""
    limit = _header(headers, f"x-ratelimit-limit-{kind}", f"anthropic-ratelimit-{kind}-limit")
    left = _header(
        headers, f"x-ratelimit-remaining-{kind}", f"anthropic-ratelimit-{kind}-remaining"
    )
    reset = _header(headers, f"x-ratelimit-reset-{kind}", f"anthropic-ratelimit-{kind}-reset")
    return (
        None if limit is None else _count(limit, most),
        None if left is None else _count(left, most),
        None if reset is None else _duration(reset),
    )


def announced(headers: Mapping[str, str]) -> Announced:
    """Return the limits the headers announce; raise Nonsense when one cannot be believed."""
    requests = _read(headers, "requests", MAX_REQUESTS_PER_MINUTE)
    tokens = _read(headers, "tokens", MAX_TOKENS_PER_MINUTE)
    if 0 in (requests[0], tokens[0]):
        raise Nonsense("a limit of 0")
    return Announced(*requests, *tokens)


@dataclass
class KeyState:
    """What this process knows of one provider key's limits."""

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    # Monotonic time before which no new call starts: the provider asked to wait.
    blocked_until: float = 0.0
    # Calls in flight the provider takes now (AIMD); None: as many as the job allows.
    window: float | None = None
    ceiling: int = 1
    decreased_at: float = -math.inf
    warned: bool = False
    # An answer came back: what it said of the limits (if anything) is known.
    heard: bool = False
    # What the last answer said was left of the key's current window.
    requests_remaining: float | None = None
    tokens_remaining: float | None = None
    # Refusals since the shared budget last heard of them. The HTTP client retries a
    # refused call by itself, a call no grant paid for; and a refusal means the budget
    # believed in more than the provider had left.
    refusals: int = 0
    # Answers heard, and the tokens the answered calls used: a call's tokens before any
    # job has recorded one.
    answers: int = 0
    used_calls: int = 0
    used_tokens: int = 0

    def tokens_per_call(self) -> float | None:
        """Return the mean tokens of the calls answered here, or None before the first."""
        return self.used_tokens / self.used_calls if self.used_calls else None

    def back_off(self, now: float, wait: float) -> None:
        """Hold new calls for ``wait`` seconds and halve the calls in flight, once per refusal."""
        self.blocked_until = max(self.blocked_until, now + wait)
        # Calls already in flight when the first refusal came are refused together:
        # they halve the window once, not once each.
        if now - self.decreased_at >= max(wait, DEFAULT_BACKOFF_SECONDS):
            self.window = max(1.0, (self.window or self.ceiling) / 2)
            self.decreased_at = now

    def answered(self) -> None:
        """Climb back by about one call in flight per window of answered calls."""
        if self.window is not None:
            self.window += 1 / self.window
            if self.window >= self.ceiling:
                self.window = None

    def learn(self, said: Announced, now: float) -> None:
        """Take the announced limits; wait for a reset when nothing remains."""
        if said.requests_limit is not None:
            self.requests_per_minute = said.requests_limit
        if said.tokens_limit is not None:
            self.tokens_per_minute = said.tokens_limit
        if said.requests_remaining is not None:
            self.requests_remaining = said.requests_remaining
        if said.tokens_remaining is not None:
            self.tokens_remaining = said.tokens_remaining
        for left, reset in (
            (said.requests_remaining, said.requests_reset),
            (said.tokens_remaining, said.tokens_reset),
        ):
            if left is not None and left < 1 and reset is not None:
                self.blocked_until = max(self.blocked_until, now + min(reset, 60.0))


class ProviderLimits:
    """What every provider key announced to this process, fed by the judge's HTTP clients."""

    def __init__(self) -> None:
        self._keys: dict[str, KeyState] = {}

    def state(self, key: str) -> KeyState:
        """Return what is known of ``key``."""
        return self._keys.setdefault(key, KeyState())

    def used(self, key: str, tokens: int) -> None:
        """Note the tokens one answered call used."""
        state = self.state(key)
        state.used_calls += 1
        state.used_tokens += tokens

    def observe(self, key: str, status: int, headers: Mapping[str, str]) -> None:
        """Learn from one answer: its announced limits and, on a refusal, the wait asked for."""
        state, now = self.state(key), time.monotonic()
        state.heard = True
        state.answers += 1
        try:
            said = announced(headers)
            wait = retry_after(headers) if status in BACKOFF_STATUSES else None
            if wait is not None and wait > MAX_RETRY_AFTER_SECONDS:
                raise Nonsense(f"retry-after {wait:.0f} s")
        except Nonsense as exc:
            if not state.warned:
                state.warned = True
                log.warning(
                    "provider %s announced rate limits that make no sense (%s); "
                    "pacing with the configured limits instead",
                    key,
                    str(exc)[:80],
                )
            said, wait = Announced(), None
        state.learn(said, now)
        if status in BACKOFF_STATUSES:
            state.refusals += 1
            state.back_off(now, DEFAULT_BACKOFF_SECONDS if wait is None else wait)
        elif status < 400:
            state.answered()
