"""Tell a provider that is down from a run whose own prompt fails: one job run's calls."""

from dataclasses import replace

from execlens.jobs.recorder import MAX_ATTEMPTS, Outcome


class OutageWatch:
    """Counts the calls a job run's provider answered and the runs that failed meanwhile."""

    def __init__(self) -> None:
        # Runs whose calls failed as "unavailable" since the provider last answered.
        self.failing: set[int] = set()
        # Calls the provider answered, and how many it had when each failing run first failed.
        self._answered = self._unanswered = 0
        self._first_failed: dict[int, int] = {}

    def attributed(self, item_id: int, outcome: Outcome) -> Outcome:
        """Mark a run's failure unproven while no other call was answered since it first failed.

        A 500 that comes back for one prompt while other calls succeed is that run's;
        one that every call gets is an outage, and the run waits for the provider.
        """
        if not outcome.is_retry_later or outcome.rate_limited:
            self._first_failed.pop(item_id, None)
            return outcome
        first = self._first_failed.setdefault(item_id, self._answered)
        if self._answered > first:
            return outcome
        return replace(outcome, unproven=True)

    def is_outage(self, item_id: int, outcome: Outcome, *, concurrency: int) -> bool:
        """Note a call's outcome; return True when the provider looks down.

        Down means different runs keep failing and none succeeds. One run failing again
        and again (a 500 its prompt causes every time) is that run's failure, not an
        outage: only distinct runs count. A rate-limited call says nothing either way;
        the pacing makes it wait.
        """
        if outcome.rate_limited:
            return False
        if not outcome.is_retry_later:
            self.failing.clear()
            self._unanswered = 0
            self._answered += 1
            return False
        self.failing.add(item_id)
        self._unanswered += 1
        # Calls held to one or two at a time (the provider asked to back off) may retry
        # the same runs: that many failures in a row, none answered, is an outage too,
        # before any run used up the attempts of an unproven failure.
        return (
            len(self.failing) >= _outage_after(concurrency)
            or self._unanswered >= 2 * MAX_ATTEMPTS - 1
        )


def _outage_after(concurrency: int) -> int:
    """Distinct runs failing in a row, none answered, that mean the provider is down.

    At least one per slot, so an outage pauses the job before any run in flight has used
    up its attempts; never fewer than MAX_ATTEMPTS, for the same reason at concurrency 1.
    """
    return max(MAX_ATTEMPTS, concurrency)
