"""Exact numbers and alert decisions for crafted series, in both window modes."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from execlens.trends.service import trend_query, trend_service
from tests.trends.conftest import NOW, Run, day, runs_for, store_runs

GAPPED = {12: [0.9] * 3, 8: [0.9] * 3, 4: [0.8] * 3, 1: [0.6] * 3, 0: [0.5] * 3}


@pytest.fixture(params=["calendar", "rows"])
def window(request) -> str:
    return request.param


async def trend(database, graph_id="g-blog", **params):
    query = trend_query(graph_id=graph_id, **params)
    async with database.read() as session:
        return await trend_service.trends(session, database.dialect, query, now=NOW)


def averages(point) -> tuple:
    return (point.daily_score, point.three_day_avg, point.seven_day_avg, point.fourteen_day_avg)


async def test_gaps_shorten_calendar_windows_but_not_row_windows(database, window):
    await store_runs(database, runs_for(GAPPED))
    result = await trend(database, window=window, include_historical=True)
    latest = result.latest_data
    assert latest.date == datetime(2026, 11, 20, tzinfo=UTC)
    if window == "calendar":
        # 3 days = today and yesterday; 7 days add day -4; 14 days add -8 and -12.
        assert averages(latest) == pytest.approx((50, 55, 190 / 3, 74))
        assert latest.drop_percent == pytest.approx(13.157894736842104)
        assert latest.min_samples == 6
    else:
        # The last 3 days with data reach back to day -4, the last 7 to day -12.
        assert averages(latest) == pytest.approx((50, 190 / 3, 74, 74))
        assert latest.drop_percent == pytest.approx(14.414414414414415)
        assert latest.min_samples == 9
    assert result.alert is not None
    assert result.alert.drop_percent == pytest.approx(latest.drop_percent)
    assert (result.alert.three_day_avg, result.alert.seven_day_avg) == (
        latest.three_day_avg,
        latest.seven_day_avg,
    )
    assert (result.alert.graph_id, result.alert.user_id) == ("g-blog", None)
    assert result.alert.detected_at == NOW

    history = result.historical_data
    assert [p.date.date() for p in history] == [day(o) for o in (0, 1, 4, 8, 12)]
    day_minus_4 = history[2]
    expected = (80, 80, 85, 260 / 3) if window == "calendar" else (80, 260 / 3, 260 / 3, 260 / 3)
    assert averages(day_minus_4) == pytest.approx(expected)


async def test_a_single_day(database, window):
    await store_runs(database, runs_for({0: [0.7, 0.7, 0.7]}))
    result = await trend(database, window=window)
    assert averages(result.latest_data) == pytest.approx((70, 70, 70, 70))
    assert result.latest_data.drop_percent == 0
    assert result.alert is None
    assert result.historical_data is None


async def test_a_day_with_one_run_counts_in_both_windows(database, window):
    # Upstream keeps every day with at least one finished run (HAVING COUNT(*) >= 1).
    await store_runs(database, runs_for({0: [0.4], 1: [0.8, 0.8, 0.8]}))
    latest = (await trend(database, window=window)).latest_data
    assert (latest.date, latest.executions) == (datetime(2026, 11, 20, tzinfo=UTC), 1)
    assert averages(latest) == pytest.approx((40, 60, 60, 60))


async def test_no_data(database, window):
    # Runs of another graph, and runs of this graph older than days_back, are not data.
    await store_runs(database, runs_for({0: [0.9] * 3}, graph_id="g-other"))
    await store_runs(database, runs_for({20: [0.9] * 3}))
    result = await trend(database, window=window, days_back=14, include_historical=True)
    assert result.latest_data.date == NOW
    assert averages(result.latest_data) == (None, None, None, None)
    assert result.alert is None
    assert result.historical_data == []
    assert (await trend(database, window=window, days_back=14)).historical_data is None


async def test_scores_of_zero_are_scores(database, window):
    await store_runs(database, runs_for({o: [0.0] * 3 for o in range(7)}))
    result = await trend(database, window=window)
    assert averages(result.latest_data) == (0, 0, 0, 0)
    # A 7-day average of 0 has nothing to drop from.
    assert result.latest_data.drop_percent is None
    assert result.alert is None


async def test_a_fall_to_zero_is_a_full_drop(database, window):
    series = {o: [1.0] * 3 for o in range(3, 7)} | {o: [0.0] * 3 for o in range(3)}
    await store_runs(database, runs_for(series))
    result = await trend(database, window=window)
    assert averages(result.latest_data) == pytest.approx((0, 0, 400 / 7, 400 / 7))
    assert result.alert is not None
    assert result.alert.drop_percent == 100


async def test_an_improving_series_raises_no_alert(database, window):
    series = {4: [0.5] * 3, 3: [0.6] * 3, 2: [0.7] * 3, 1: [0.8] * 3, 0: [0.9] * 3}
    await store_runs(database, runs_for(series))
    result = await trend(database, window=window)
    assert averages(result.latest_data) == pytest.approx((90, 80, 70, 70))
    assert result.latest_data.drop_percent == pytest.approx(-100 / 7)
    assert result.alert is None


async def test_a_drop_of_exactly_the_threshold_alerts(database, window):
    # 7-day average (4 x 86 + 3 x 72) / 7 = 80, 3-day average 72: a drop of exactly 10 %.
    series = {o: [0.86] * 3 for o in range(3, 7)} | {o: [0.72] * 3 for o in range(3)}
    await store_runs(database, runs_for(series))
    assert (await trend(database, window=window, drop_threshold=10)).alert is not None
    assert (await trend(database, window=window, drop_threshold=10.01)).alert is None


async def test_min_executions_suppresses_thin_alerts(database):
    await store_runs(database, runs_for(GAPPED))
    thin = await trend(database, min_executions=7)
    assert thin.alert is None
    assert thin.alert_suppressed == (
        "the 3-day window holds 6 scored executions, fewer than min_executions=7"
    )
    assert (await trend(database, min_executions=6)).alert is not None


async def test_counts_only_finished_runs_and_their_scores(database):
    runs = [
        *runs_for({0: [0.8, 0.8, 0.8]}),
        Run(day(0), 0.0, status="RUNNING"),
        Run(day(0), 0.0, status="QUEUED"),
        Run(day(0), None, status="FAILED"),
        Run(day(0), 0.1, user_id="u-2"),
    ]
    await store_runs(database, runs)
    everyone = (await trend(database)).latest_data
    assert (everyone.executions, everyone.scored, everyone.coverage) == (5, 4, 0.8)
    assert everyone.daily_score == pytest.approx(62.5)
    one_user = await trend(database, user_id="u-1")
    assert (one_user.latest_data.executions, one_user.latest_data.scored) == (4, 3)
    assert one_user.latest_data.daily_score == pytest.approx(80)


async def test_days_are_utc_days_whatever_the_session_time_zone(database, window):
    late = [Run(day(1), 1.0, hour=23) for _ in range(3)]
    early = [Run(day(0), 0.0, hour=1) for _ in range(3)]
    await store_runs(database, late + early)
    query = trend_query(graph_id="g-blog", window=window, include_historical=True)
    async with database.read() as session:
        if database.dialect == "postgresql":
            # In Tokyo both groups of runs fall on the same local day.
            await session.execute(text("SET TIME ZONE 'Asia/Tokyo'"))
        result = await trend_service.trends(session, database.dialect, query, now=NOW)
    assert [(p.date.date(), p.daily_score) for p in result.historical_data] == [
        (day(0), 0),
        (day(1), 100),
    ]
