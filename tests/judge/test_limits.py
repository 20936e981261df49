"""The rate limits providers announce in headers, as the pacing reads them."""

import logging
import time

import pytest
from pydantic import SecretStr

from execlens.config import Settings
from execlens.judge.limits import ProviderLimits, provider_key

OPENAI = {
    "x-ratelimit-limit-requests": "500",
    "x-ratelimit-remaining-requests": "499",
    "x-ratelimit-reset-requests": "120ms",
    "x-ratelimit-limit-tokens": "60000",
    "x-ratelimit-remaining-tokens": "59000",
    "x-ratelimit-reset-tokens": "1m0.5s",
}
ANTHROPIC = {
    "anthropic-ratelimit-requests-limit": "50",
    "anthropic-ratelimit-requests-remaining": "49",
    "anthropic-ratelimit-requests-reset": "2026-12-01T04:00:00Z",
    "anthropic-ratelimit-tokens-limit": "40000",
    "anthropic-ratelimit-tokens-remaining": "39000",
}


@pytest.mark.parametrize(
    ("headers", "limits"),
    [(OPENAI, (500, 60_000)), (ANTHROPIC, (50, 40_000))],
    ids=["openai", "anthropic"],
)
def test_announced_limits_are_learned(headers, limits):
    known = ProviderLimits()

    known.observe("k", 200, headers)

    state = known.state("k")
    assert (state.requests_per_minute, state.tokens_per_minute) == limits
    assert state.blocked_until < time.monotonic()


def test_a_refusal_holds_new_calls_for_the_wait_asked_and_halves_the_calls_in_flight():
    known = ProviderLimits()
    known.state("k").ceiling = 16

    known.observe("k", 429, {"retry-after": "3"})
    known.observe("k", 429, {"retry-after-ms": "2500"})  # the same burst: halved once

    state = known.state("k")
    assert 2.5 < state.blocked_until - time.monotonic() <= 3.0
    assert state.window == 8
    for _ in range(40):
        known.observe("k", 200, {})
    assert 8 < state.window < 16  # climbing back, about one call per window answered
    for _ in range(100):
        known.observe("k", 200, {})
    assert state.window is None  # back to what the job allows


def test_nothing_left_waits_for_the_reset():
    known = ProviderLimits()

    known.observe("k", 200, OPENAI | {"x-ratelimit-remaining-tokens": "0"})

    assert 59 < known.state("k").blocked_until - time.monotonic() <= 60.5


@pytest.mark.parametrize(
    "nonsense",
    [
        {"x-ratelimit-limit-requests": "-5"},
        {"x-ratelimit-limit-tokens": "1e300"},
        {"x-ratelimit-limit-requests": "0"},
        {"x-ratelimit-reset-tokens": "soon"},
        {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "9999999s"},
        {"retry-after": "99999999"},
        {"retry-after": "tomorrow-ish"},
    ],
)
def test_nonsense_is_ignored_with_one_warning_and_never_stalls(nonsense, caplog):
    known = ProviderLimits()
    caplog.set_level(logging.WARNING, logger="execlens.judge")

    known.observe("k", 429, OPENAI | nonsense)
    known.observe("k", 429, OPENAI | nonsense)

    state = known.state("k")
    # Nothing from the bad answer is believed; a refusal still backs off the default second.
    assert (state.requests_per_minute, state.tokens_per_minute) == (None, None)
    assert state.blocked_until - time.monotonic() <= 1.0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "make no sense" in warnings[0].getMessage()


def test_the_budget_key_names_the_provider_and_never_the_api_key(tmp_path):
    secret = "sk-very-secret-key"
    settings = Settings(data_dir=tmp_path, openai_api_key=SecretStr(secret))
    other = settings.model_copy(update={"openai_api_key": SecretStr("sk-another-key")})

    key = provider_key(settings, "openai")

    assert key is not None and key.startswith("openai:") and secret not in key
    assert provider_key(other, "openai") != key
    assert provider_key(settings, "local") is None
