"""Agreement between judge scores and human labels: rank, error and threshold measures.

Written out rather than taken from scipy or scikit-learn: those two with numpy add about
70 MB of wheels (over 200 MB installed) for five short formulas, each checked in the tests
against the values those libraries give.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from math import sqrt


@dataclass(frozen=True)
class Confusion:
    """Judge verdicts against labels at a threshold: pass is at or above it."""

    true_positive: int
    false_positive: int
    true_negative: int
    false_negative: int

    @property
    def total(self) -> int:
        """Return how many pairs the matrix counts."""
        return self.true_positive + self.false_positive + self.true_negative + self.false_negative


@dataclass(frozen=True)
class Agreement:
    """How well one judge's scores agree with the labels of the same runs."""

    n: int
    roc_auc: float | None  # None when the labels are all pass or all fail
    spearman: float | None  # None when either side is constant
    mae: float | None
    accuracy: float | None
    cohen_kappa: float | None  # None when chance agreement is already perfect
    confusion: Confusion


def ranks(values: Sequence[float]) -> list[float]:
    """Return each value's rank from 1, ties sharing their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    result = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for index in order[start : end + 1]:
            result[index] = (start + end) / 2 + 1
        start = end + 1
    return result


def roc_auc(scores: Sequence[float], positive: Sequence[bool]) -> float | None:
    """Return the chance that a positive run outscores a negative one (ties count half)."""
    n_pos = sum(positive)
    n_neg = len(positive) - n_pos
    if not n_pos or not n_neg:
        return None
    rank_sum = sum(rank for rank, pos in zip(ranks(scores), positive, strict=True) if pos)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Return the Pearson correlation, or None when either side does not vary."""
    if len(xs) < 2:
        return None
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    var_x = sum((x - mean_x) ** 2 for x in xs)
    var_y = sum((y - mean_y) ** 2 for y in ys)
    if var_x == 0 or var_y == 0:
        return None
    return cov / sqrt(var_x * var_y)


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Return Spearman's rank correlation: Pearson's on the ranks."""
    return pearson(ranks(xs), ranks(ys))


def cohen_kappa(confusion: Confusion) -> float | None:
    """Return Cohen's kappa: agreement beyond what chance alone would give."""
    n = confusion.total
    if not n:
        return None
    tp, fp = confusion.true_positive, confusion.false_positive
    tn, fn = confusion.true_negative, confusion.false_negative
    observed = (tp + tn) / n
    expected = ((tp + fp) * (tp + fn) + (tn + fn) * (tn + fp)) / (n * n)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def confusion_at(scores: Sequence[float], labels: Sequence[float], threshold: float) -> Confusion:
    """Return the confusion matrix of scores against labels, both cut at threshold."""
    pairs = [(s >= threshold, label >= threshold) for s, label in zip(scores, labels, strict=True)]
    return Confusion(
        true_positive=sum(p and t for p, t in pairs),
        false_positive=sum(p and not t for p, t in pairs),
        true_negative=sum(not p and not t for p, t in pairs),
        false_negative=sum(not p and t for p, t in pairs),
    )


def agreement(scores: Sequence[float], labels: Sequence[float], threshold: float) -> Agreement:
    """Return every agreement measure of judge scores against labels of the same runs."""
    n = len(scores)
    confusion = confusion_at(scores, labels, threshold)
    return Agreement(
        n=n,
        roc_auc=roc_auc(scores, [label >= threshold for label in labels]),
        spearman=spearman(scores, labels),
        mae=sum(abs(s - label) for s, label in zip(scores, labels, strict=True)) / n if n else None,
        accuracy=(confusion.true_positive + confusion.true_negative) / n if n else None,
        cohen_kappa=cohen_kappa(confusion),
        confusion=confusion,
    )
