"""Deterministic pacing: how often each outcome happens and what an earlier judge scored."""

import math
import random
from collections.abc import Iterable, Mapping

# (low, high, mode) of the earlier judge's correctness score per outcome.
SCORES = {
    "good": (0.75, 1.0, 0.92),
    "recovered": (0.6, 0.85, 0.72),
    "empty": (0.0, 0.2, 0.05),
    "failed": (0.0, 0.2, 0.05),
    "terminated": (0.2, 0.4, 0.3),
}
GOLDEN = (5**0.5 - 1) / 2


class Quota:
    """Hands out events at given rates, spread evenly rather than in random clumps.

    Independent coin flips would let a quiet agent's daily quality swing by several points
    from sampling noise alone; spreading keeps the stable agents stable.
    """

    def __init__(self, rng: random.Random, kinds: Iterable[str]) -> None:
        self._due = rng.random()  # events owed so far, of any kind
        self._debt = {kind: rng.random() for kind in kinds}

    def draw(self, rng: random.Random, rates: Mapping[str, float]) -> str | None:
        """Return the kind of event the next run gets, or None when it gets none."""
        total = sum(rates.values())
        self._due += total * rng.uniform(0.95, 1.05)
        if self._due < 1:
            return None
        self._due -= 1
        for kind, rate in rates.items():
            self._debt[kind] += rate / total
        kind = max(self._debt, key=self._debt.__getitem__)
        self._debt[kind] -= 1
        return kind


class Judge:
    """Scores like an earlier LLM judge; a golden-ratio sequence keeps daily averages steady."""

    def __init__(self, rng: random.Random) -> None:
        self._position = rng.random()

    def score(self, outcome: str) -> float:
        """Return the next score for a run with this outcome, rounded to 2 decimals."""
        self._position = (self._position + GOLDEN) % 1
        low, high, mode = SCORES[outcome]
        # random.triangular's inverse CDF, fed with the sequence instead of random().
        u, c = self._position, (mode - low) / (high - low)
        if u > c:
            u, c, low, high = 1 - u, 1 - c, high, low
        return round(low + (high - low) * math.sqrt(u * c), 2)
