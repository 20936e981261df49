"""How many calls a job may start now: its cost cap, its own rate and its provider key's.

Each limit is a ``PacingPolicy``; ``Pacing`` asks them in turn, each granting at most
what the one before it granted. A new limit (say, an adaptive one per provider key)
is one more policy, without touching the job run.
"""

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from execlens.config import Settings
from execlens.jobs import repository
from execlens.jobs.models import AnalyticsJob, ProviderBucket
from execlens.jobs.repository import HeldRow
from execlens.judge.digest import estimate_tokens
from execlens.judge.limits import KeyState, ProviderLimits, provider_key
from execlens.judge.prompts import DEFAULT_SYSTEM_PROMPT, DEFAULT_USER_PROMPT

# Stay this far under a limit the provider announced: it counts in its own windows.
HEADROOM = 0.95
# A budget holds at most this many seconds of its rate: enough to absorb a late claim,
# too little to set off a burst the provider would refuse.
BURST_SECONDS = 2.0
# Calls in flight for a key whose limits nobody has heard yet: enough to learn them from
# the first answers' headers, too few to run into a limit nobody announced.
FIRST_WAVE = 4
# A budget another process used this lately has heard the key's answers: a process that
# has heard none itself need not start with a first wave of its own.
HEARD_LATELY = timedelta(minutes=1)


@dataclass(frozen=True)
class Grant:
    """How many calls may start now, and what holds the rest back."""

    count: int
    # Seconds until a limit allows another call; None when time is not what limits.
    wait: float | None = None
    # The cost cap is what stops more calls: with nothing in flight, the job pauses.
    cost_cap_reached: bool = False


class PacingPolicy(Protocol):
    """One limit on how many of a job's calls may start now."""

    def grant(self, job: AnalyticsJob, want: int, *, spending: int, now: datetime) -> Grant:
        """Return how many of ``want`` calls this limit allows now."""
        ...


class CostCap:
    """Start no call the job's max_cost_usd could not pay for.

    Calls still ``spending`` (in flight, or returned and not yet recorded) count at the
    higher of the estimated and the actual mean cost per call.
    """

    def grant(self, job: AnalyticsJob, want: int, *, spending: int, now: datetime) -> Grant:
        """Return how many calls the cost cap still pays for."""
        if job.max_cost_usd is None:
            return Grant(want)
        left = job.max_cost_usd - job.cost_usd
        actual = job.cost_usd / job.llm_calls if job.llm_calls else 0.0
        per_item = max(job.est_cost_per_item or 0.0, actual)
        if left <= 0:
            return Grant(0, cost_cap_reached=True)
        if per_item <= 0 and job.est_cost_per_item is None and not job.llm_calls:
            # Nothing says what a call costs yet (a judging rule's job has no estimate):
            # one call finds out before more start, so the cap is not overrun by a batch.
            return Grant(min(want, 1) if spending == 0 else 0)
        if per_item <= 0:
            return Grant(want)
        allowed = math.floor(left / per_item) - spending
        if allowed < want:
            return Grant(allowed, cost_cap_reached=True)
        return Grant(want)


class RequestsPerMinute:
    """A token bucket on the job's row, shared by every worker that runs the job."""

    def grant(self, job: AnalyticsJob, want: int, *, spending: int, now: datetime) -> Grant:
        """Spend the job's tokens for up to ``want`` calls; say how long until the next one."""
        if not job.requests_per_minute or want <= 0:
            return Grant(want)
        per_second = job.requests_per_minute / 60
        burst = max(1.0, min(float(job.concurrency), per_second))
        tokens = burst if job.rate_tokens is None else job.rate_tokens
        if job.rate_updated_at is not None:
            elapsed = (now - job.rate_updated_at).total_seconds()
            tokens = min(burst, tokens + elapsed * per_second)
        granted = min(want, int(tokens))
        job.rate_tokens, job.rate_updated_at = tokens - granted, now
        if granted == 0:
            return Grant(0, wait=(1 - job.rate_tokens) / per_second)
        return Grant(granted)


def tokens_per_call(job: AnalyticsJob, settings: Settings, state: KeyState | None = None) -> float:
    """Estimate a call's tokens: the job's mean, else the key's answered calls', else its prompts.

    Before any call was answered, a full digest and answer count beside the prompts.
    """
    if job.llm_calls:
        return (job.input_tokens + job.output_tokens) / job.llm_calls
    if state is not None and (answered := state.tokens_per_call()) is not None:
        return answered
    prompts = (job.system_prompt or DEFAULT_SYSTEM_PROMPT) + (
        job.user_prompt or DEFAULT_USER_PROMPT
    )
    return (
        estimate_tokens(prompts) + settings.digest_budget_tokens + settings.judge_max_output_tokens
    )


def _refill(level: float, per_second: float, burst: float, elapsed: float) -> float:
    return min(burst, level + elapsed * per_second)


class ProviderRate:
    """One budget per provider key, in the database: shared by every job, rule and worker.

    It keeps requests and tokens per minute just under what the provider announced in
    its headers (settings per provider override that; a job's tokens_per_minute caps
    it), waits as long as a refusal asked, and holds no more calls in flight than the
    provider took lately (AIMD, kept by ``ProviderLimits``).
    """

    def __init__(self, settings: Settings, limits: ProviderLimits) -> None:
        self.settings = settings
        self.limits = limits
        self._key: str | None = None
        self._held: HeldRow[ProviderBucket] | None = None

    async def prepare(self, session: AsyncSession, job: AnalyticsJob, now: datetime) -> None:
        """Read and hold the job's provider budget for this claim's transaction."""
        self._key = provider_key(self.settings, job.provider)
        self._held = None
        if self._key is not None:
            self._held = await repository.provider_bucket(session, self._key, now)

    async def store(self, session: AsyncSession) -> None:
        """Write what this claim's grant changed of the provider budget."""
        if self._held is not None:
            await repository.write_changes(session, self._held)

    def grant(self, job: AnalyticsJob, want: int, *, spending: int, now: datetime) -> Grant:
        """Spend the provider key's budget for up to ``want`` calls; say how long to wait."""
        key = self._key
        if self._held is None or key is None or want <= 0:
            return Grant(want)
        bucket = self._held.obj
        state = self.limits.state(key)
        state.ceiling = job.concurrency
        rpm, tpm = self._limits(job, state, bucket)
        per_call = tokens_per_call(job, self.settings, state)
        job.paced_rpm, job.paced_tpm, job.paced_tokens_per_call = rpm, tpm, per_call
        blocked = state.blocked_until - time.monotonic()
        if blocked > 0:
            bucket.blocked_until = max(
                bucket.blocked_until or now, now + timedelta(seconds=blocked)
            )
        if bucket.blocked_until is not None and bucket.blocked_until > now:
            job.paced_by = "backoff"
            return Grant(0, wait=(bucket.blocked_until - now).total_seconds())
        if state.window is not None:
            want = min(want, max(0, int(state.window) - spending))
        if rpm is None and tpm is None and not (state.heard or _heard_elsewhere(bucket, now)):
            job.paced_by = None
            return _first_wave(bucket, per_call, want, spending, now)
        if bucket.requests < 0:
            _start(bucket, rpm, tpm, state, per_call, now)
        elif state.refusals:
            _settle_refusals(bucket, state, per_call)
        grant, job.paced_by = _spend(bucket, rpm, tpm, per_call, want, now)
        return grant

    def _limits(
        self, job: AnalyticsJob, state: KeyState, bucket: ProviderBucket
    ) -> tuple[float | None, float | None]:
        """Return the requests and tokens per minute to keep to; None where none is known."""
        bucket.requests_per_minute = state.requests_per_minute or bucket.requests_per_minute
        bucket.tokens_per_minute = state.tokens_per_minute or bucket.tokens_per_minute
        rpm: float | None = self.settings.provider_requests_per_minute.get(job.provider)
        tpm: float | None = self.settings.provider_tokens_per_minute.get(job.provider)
        if rpm is None and bucket.requests_per_minute is not None:
            rpm = bucket.requests_per_minute * HEADROOM
        if tpm is None and bucket.tokens_per_minute is not None:
            tpm = bucket.tokens_per_minute * HEADROOM
        if job.tokens_per_minute is not None:
            tpm = min(tpm or math.inf, job.tokens_per_minute)
        return rpm, tpm


def _heard_elsewhere(bucket: ProviderBucket, now: datetime) -> bool:
    """Say whether another process started this budget from answers lately.

    A first wave in flight leaves the budget below zero; a new one was last updated long
    ago. Without this, a process joining a key that announces no limit (a local server)
    would count every other worker's calls against its own first wave, and never start one.
    """
    return bucket.requests >= 0 and now - bucket.updated_at < HEARD_LATELY


def _first_wave(
    bucket: ProviderBucket, per_call: float, want: int, spending: int, now: datetime
) -> Grant:
    """Allow a first wave of calls before any limit is known; count them as owed."""
    count = min(want, max(0, FIRST_WAVE - spending))
    bucket.requests = min(0.0, bucket.requests) - count
    bucket.updated_at = now
    return Grant(count)


def _start(
    bucket: ProviderBucket,
    rpm: float | None,
    tpm: float | None,
    state: KeyState,
    per_call: float,
    now: datetime,
) -> None:
    """Fill a budget that just learned its limits with what the provider says is left.

    A full burst on top of the first wave would spend what the provider already counted.
    The remaining count heard may predate first-wave calls (this or another process's)
    whose answers this process has not heard: those come off it too. Without a remaining
    count, the wave's calls come off the requests' burst and the tokens start empty.
    """
    owed = -bucket.requests
    unheard = max(0.0, owed - state.answers)
    bucket.requests = bucket.tokens = 0.0
    if rpm is not None:
        burst = max(1.0, rpm / 60 * BURST_SECONDS)
        left = state.requests_remaining
        bucket.requests = max(0.0, min(burst, burst - owed if left is None else left - unheard))
    if tpm is not None and state.tokens_remaining is not None:
        left_tokens = min(tpm / 60 * BURST_SECONDS, state.tokens_remaining)
        bucket.tokens = left_tokens - unheard * per_call
    bucket.updated_at = now


def _settle_refusals(bucket: ProviderBucket, state: KeyState, per_call: float) -> None:
    """Charge the budget for refused calls retried unasked; believe no more than is left.

    The HTTP client retries a refused call after the wait asked, without a grant: each
    retry is one more call the budget must pay for. The refusal's own headers tell what
    the provider had left, which the budget then never exceeds.
    """
    retried, state.refusals = state.refusals, 0
    bucket.requests = max(0.0, bucket.requests - retried)
    bucket.tokens -= retried * per_call
    if state.requests_remaining is not None:
        bucket.requests = min(bucket.requests, state.requests_remaining)
    if state.tokens_remaining is not None:
        bucket.tokens = min(bucket.tokens, state.tokens_remaining)


def _spend(
    bucket: ProviderBucket,
    rpm: float | None,
    tpm: float | None,
    per_call: float,
    want: int,
    now: datetime,
) -> tuple[Grant, str | None]:
    """Take up to ``want`` calls from the budget; return the grant and what limited it."""
    elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
    bucket.updated_at = now
    count, limited_by, waits = want, None, [0.0]
    if rpm is not None:
        per_second = rpm / 60
        bucket.requests = _refill(
            bucket.requests, per_second, max(1.0, per_second * BURST_SECONDS), elapsed
        )
        if int(bucket.requests) < count:
            count, limited_by = int(bucket.requests), "requests"
    if tpm is not None:
        per_second = tpm / 60
        burst = max(per_call, per_second * BURST_SECONDS)
        bucket.tokens = _refill(bucket.tokens, per_second, burst, elapsed)
        if int(bucket.tokens // per_call) < count:
            count, limited_by = int(bucket.tokens // per_call), "tokens"
    count = max(0, count)
    if rpm is not None:
        bucket.requests -= count
        waits.append((1 - bucket.requests) * 60 / rpm)
    if tpm is not None:
        bucket.tokens -= count * per_call
        waits.append((per_call - bucket.tokens) * 60 / tpm)
    if count >= want:
        return Grant(count), limited_by
    return Grant(count, wait=max(waits)), limited_by


class Pacing:
    """Every limit on a job's calls, applied in order."""

    def __init__(self, policies: Sequence[PacingPolicy] | None = None) -> None:
        # The cost cap first: tokens are spent only on calls the cap allows.
        defaults: list[PacingPolicy] = [CostCap(), RequestsPerMinute()]
        self.policies = list(policies) if policies is not None else defaults

    @classmethod
    def with_provider(cls, settings: Settings, limits: ProviderLimits) -> "Pacing":
        """Return the cost cap, the job's rate, then its provider key's shared budget."""
        return cls([CostCap(), RequestsPerMinute(), ProviderRate(settings, limits)])

    async def prepare(self, session: AsyncSession, job: AnalyticsJob, now: datetime) -> None:
        """Let the limits that keep state in the database read it for this claim."""
        for policy in self.policies:
            if (prepare := getattr(policy, "prepare", None)) is not None:
                await prepare(session, job, now)

    async def store(self, session: AsyncSession) -> None:
        """Let the limits that keep state in the database write what this claim changed."""
        for policy in self.policies:
            if (store := getattr(policy, "store", None)) is not None:
                await store(session)

    def grant(self, job: AnalyticsJob, want: int, *, spending: int, now: datetime) -> Grant:
        """Return how many of ``want`` calls every limit allows now."""
        count, wait, capped = want, None, False
        for policy in self.policies:
            grant = policy.grant(job, count, spending=spending, now=now)
            # A later limit that holds calls back is what stops them, not the cost cap:
            # the job waits for it instead of pausing with a verdict's worth left.
            capped = grant.cost_cap_reached or (capped and grant.count >= count)
            count = min(count, grant.count)
            if grant.wait is not None:
                wait = grant.wait if wait is None else max(wait, grant.wait)
        return Grant(count, wait, capped)
