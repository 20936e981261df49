"""On random gapped series, the one SQL query equals the plain-Python reference."""

from itertools import count

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from execlens.trends.service import trend_query, trend_service
from tests.trends.conftest import NOW, Run, day, store_runs
from tests.trends.reference import assert_matches, reference_trend

_graphs = count()

# Days 0..40 before today, some missing; each with one to six runs of any status.
series = st.dictionaries(
    keys=st.integers(0, 40),
    values=st.lists(
        st.tuples(
            st.integers(0, 23),
            st.sampled_from(["COMPLETED", "COMPLETED", "FAILED", "TERMINATED", "RUNNING"]),
            st.one_of(st.none(), st.just(0.0), st.just(1.0), st.floats(0, 1)),
            st.sampled_from(["u-1", "u-2"]),
        ),
        min_size=1,
        max_size=6,
    ),
    max_size=30,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=series, days_back=st.integers(1, 45), scoped=st.booleans())
async def test_sql_matches_reference(database, raw, days_back, scoped):
    # Each example gets its own graph, so examples share the database without clearing it.
    graph_id = f"g-prop-{next(_graphs)}"
    runs = [
        Run(day(offset), score, status, graph_id, user, hour)
        for offset, day_runs in raw.items()
        for hour, status, score, user in day_runs
    ]
    await store_runs(database, runs)
    user_id = "u-1" if scoped else None
    for window in ("calendar", "rows"):
        query = trend_query(
            graph_id=graph_id,
            user_id=user_id,
            days_back=days_back,
            window=window,
            include_historical=True,
        )
        async with database.read() as session:
            trend = await trend_service.trends(session, database.dialect, query, now=NOW)
        expected = reference_trend(
            runs, now=NOW, days_back=days_back, window=window, user_id=user_id
        )
        assert_matches(trend.historical_data, expected, window)
