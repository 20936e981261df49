"""How many calls a job may start now: its cost cap and its requests-per-minute limit.

Each limit is a ``PacingPolicy``; ``Pacing`` asks them in turn, each granting at most
what the one before it granted. A new limit (say, an adaptive one per provider key)
is one more policy, without touching the job run.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from execlens.jobs.models import AnalyticsJob


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


class Pacing:
    """Every limit on a job's calls, applied in order."""

    def __init__(self, policies: Sequence[PacingPolicy] | None = None) -> None:
        # The cost cap first: tokens are spent only on calls the cap allows.
        defaults: list[PacingPolicy] = [CostCap(), RequestsPerMinute()]
        self.policies = list(policies) if policies is not None else defaults

    def grant(self, job: AnalyticsJob, want: int, *, spending: int, now: datetime) -> Grant:
        """Return how many of ``want`` calls every limit allows now."""
        count, wait, capped = want, None, False
        for policy in self.policies:
            grant = policy.grant(job, count, spending=spending, now=now)
            count = min(count, grant.count)
            capped = capped or grant.cost_cap_reached
            if grant.wait is not None:
                wait = grant.wait if wait is None else max(wait, grant.wait)
        return Grant(count, wait, capped)
