"""Pacing: the cost cap and requests per minute, on an injected clock (nothing sleeps)."""

from datetime import UTC, datetime, timedelta

from execlens.jobs.models import AnalyticsJob
from execlens.jobs.pacing import CostCap, Grant, Pacing, RequestsPerMinute

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def job(**fields) -> AnalyticsJob:
    defaults = {"concurrency": 8, "cost_usd": 0.0, "llm_calls": 0, "max_cost_usd": None}
    return AnalyticsJob(**(defaults | fields))


def test_requests_per_minute_grant_a_burst_then_say_how_long_to_wait():
    paced = job(requests_per_minute=240)  # 4 per second
    bucket = RequestsPerMinute()

    assert bucket.grant(paced, 8, spending=0, now=T0) == Grant(4)
    assert bucket.grant(paced, 8, spending=0, now=T0) == Grant(0, wait=0.25)
    half = T0 + timedelta(seconds=0.5)
    assert bucket.grant(paced, 8, spending=0, now=half) == Grant(2)
    later = half + timedelta(seconds=10)
    # The bucket never holds more than its burst, however long it rested.
    assert bucket.grant(paced, 8, spending=0, now=later) == Grant(4)


def test_the_cost_cap_counts_calls_still_spending_and_says_it_is_the_limit():
    capped = job(max_cost_usd=0.01, est_cost_per_item=0.002)
    cap = CostCap()

    assert cap.grant(capped, 3, spending=0, now=T0) == Grant(3)
    assert cap.grant(capped, 8, spending=2, now=T0) == Grant(3, cost_cap_reached=True)
    spent = job(max_cost_usd=0.01, cost_usd=0.01, llm_calls=5)
    assert cap.grant(spent, 8, spending=0, now=T0) == Grant(0, cost_cap_reached=True)
    # Actual calls cost more than estimated: the actual mean counts.
    dearer = job(max_cost_usd=0.01, cost_usd=0.006, llm_calls=2, est_cost_per_item=0.001)
    assert cap.grant(dearer, 8, spending=0, now=T0) == Grant(1, cost_cap_reached=True)


def test_a_capped_job_without_an_estimate_learns_the_cost_from_one_call_first():
    # A judging rule's job: a daily budget, no estimate of what a call costs.
    unknown = job(max_cost_usd=0.0005, est_cost_per_item=None)
    cap = CostCap()

    assert cap.grant(unknown, 8, spending=0, now=T0) == Grant(1)
    assert cap.grant(unknown, 8, spending=1, now=T0) == Grant(0)
    learned = job(max_cost_usd=0.0005, cost_usd=0.00023, llm_calls=1, est_cost_per_item=None)
    assert cap.grant(learned, 8, spending=0, now=T0) == Grant(1, cost_cap_reached=True)
    # A free model (the local one) is known to cost nothing once a call is made.
    free = job(max_cost_usd=1.0, cost_usd=0.0, llm_calls=1, est_cost_per_item=None)
    assert cap.grant(free, 8, spending=0, now=T0) == Grant(8)


def test_rate_tokens_are_spent_only_on_calls_the_cost_cap_allows():
    both = job(max_cost_usd=0.004, est_cost_per_item=0.002, requests_per_minute=240)

    grant = Pacing().grant(both, 8, spending=0, now=T0)

    assert grant == Grant(2, cost_cap_reached=True)
    assert both.rate_tokens == 2


class HalfOfWhatIsLeft:
    """A stand-in for a later limit, such as one learned per provider key."""

    def grant(self, job: AnalyticsJob, want: int, *, spending: int, now: datetime) -> Grant:
        return Grant(want // 2, wait=1.5)


def test_another_limit_plugs_in_as_one_more_policy():
    paced = job(requests_per_minute=240)

    grant = Pacing([RequestsPerMinute(), HalfOfWhatIsLeft()]).grant(paced, 8, spending=0, now=T0)

    assert grant == Grant(2, wait=1.5)


def test_a_later_limit_that_holds_calls_back_is_what_stops_them_not_the_cost_cap():
    # The cap pays for two more calls; the job's rate has none left this instant.
    both = job(max_cost_usd=0.004, est_cost_per_item=0.002, requests_per_minute=60)
    pacing = Pacing()
    assert pacing.grant(both, 8, spending=0, now=T0) == Grant(1)

    grant = pacing.grant(both, 8, spending=1, now=T0)

    assert grant == Grant(0, wait=1.0)
    assert not grant.cost_cap_reached
