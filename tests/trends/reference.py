"""Accuracy trends computed in plain Python, the way the issue defines them."""

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from statistics import fmean

import pytest

from tests.trends.conftest import Run

FINISHED = {"COMPLETED", "FAILED", "TERMINATED"}
SIZES = {"three_day_avg": 3, "seven_day_avg": 7, "fourteen_day_avg": 14}


def reference_trend(
    runs: list[Run], *, now: datetime, days_back: int, window: str, user_id: str | None = None
) -> list[dict]:
    """Return one dict per day with data, newest first, like historical_data."""
    if window == "rows":
        since = now - timedelta(days=days_back)
    else:
        since = datetime.combine(now.date() - timedelta(days=days_back - 1), time(), tzinfo=UTC)
    by_day: dict = defaultdict(list)
    for run in runs:
        created = datetime.combine(run.day, time(run.hour), tzinfo=UTC)
        if run.status in FINISHED and created >= since and user_id in (None, run.user_id):
            by_day[run.day].append(run.score)
    days = sorted(by_day)
    daily = {}
    for d in days:
        scored = [s for s in by_day[d] if s is not None]
        daily[d] = (len(by_day[d]), len(scored), fmean(scored) * 100 if scored else None)

    def members(index: int, size: int) -> list:
        if window == "rows":
            return days[max(0, index - size + 1) : index + 1]
        return [d for d in days if timedelta(0) <= days[index] - d < timedelta(days=size)]

    points = []
    for index, d in enumerate(days):
        point = {
            "date": datetime.combine(d, time(), tzinfo=UTC),
            "executions": daily[d][0],
            "scored": daily[d][1],
            "daily_score": daily[d][2],
            "min_samples": sum(daily[m][1] for m in members(index, 3)),
        }
        for name, size in SIZES.items():
            values = [daily[m][2] for m in members(index, size) if daily[m][2] is not None]
            point[name] = fmean(values) if values else None
        points.append(point)
    return points[::-1]


def assert_matches(actual: list, expected: list[dict], label: str) -> None:
    """Assert a trend's historical_data equals the reference, to floating-point noise."""
    assert [p.date for p in actual] == [e["date"] for e in expected], label
    for point, want in zip(actual, expected, strict=True):
        assert (point.executions, point.scored) == (want["executions"], want["scored"]), label
        assert point.min_samples == want["min_samples"], label
        for name in ("daily_score", *SIZES):
            assert _same(getattr(point, name), want[name]), (label, point.date, name)


def _same(actual: float | None, expected: float | None) -> bool:
    if expected is None:
        return actual is None
    return actual == pytest.approx(expected, rel=1e-9, abs=1e-9)
