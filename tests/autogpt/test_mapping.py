"""How AutoGPT's run stats become execlens's: exactly what ExecutionStats would keep."""

from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from execlens.autogpt.mapping import STATS_KEYS, stats_values
from execlens.executions.schemas import ExecutionStats

# What a jsonb `stats` object can hold (no NaN or infinity), numbers near the bounds most.
_INTEGERS = st.one_of(
    st.integers(min_value=-2, max_value=2),
    st.sampled_from([2**31 - 2, 2**31 - 1, 2**31, -(2**31)]),
    st.integers(),
)
_FLOATS = st.one_of(
    st.floats(min_value=-1.0, max_value=2.0),
    st.sampled_from([0.0, -0.0, 1.0, 7.0, 1e308]),
    st.floats(allow_nan=False, allow_infinity=False),
)
_TEXT = st.text(max_size=3)
_ANY = st.one_of(
    st.none(), st.booleans(), _INTEGERS, _FLOATS, _TEXT, st.lists(st.integers(), max_size=2)
)
# Stats as the executor writes them (the right type for each key, any value), and others.
_WRITTEN = st.fixed_dictionaries(
    {},
    optional={
        "cost": _INTEGERS,
        "walltime": _FLOATS,
        "cputime": _FLOATS,
        "node_count": _INTEGERS,
        "node_error_count": _INTEGERS,
        "error": _TEXT,
        "activity_status": _TEXT,
        "correctness_score": _FLOATS,
        "nodes_walltime": _FLOATS,
    },
)
_STATS = st.one_of(
    _WRITTEN,
    st.dictionaries(st.sampled_from([*STATS_KEYS, "is_dry_run"]), _ANY, max_size=8),
)


def _kept_by_the_model(stats: dict[str, Any]) -> tuple[Any, ...]:
    """Validate the keys execlens knows, dropping each value ExecutionStats refuses."""
    picked = {k: v for k, v in stats.items() if k in STATS_KEYS and v is not None}
    for key in ("error", "activity_status"):
        if key in picked and not isinstance(picked[key], str):
            picked[key] = str(picked[key])
    while True:
        try:
            model = ExecutionStats.model_validate(picked)
            return tuple(getattr(model, key) for key in STATS_KEYS)
        except ValidationError as exc:
            for error in exc.errors():
                picked.pop(str(error["loc"][0]))


# The machine may be shared: slow examples are not the property's failure.
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_STATS)
# Each bound, each side of it, alone (one value the model refuses sends all to it); values
# of another type, which the model converts.
@example({"cost": -1, "node_count": 2**31 - 1, "node_error_count": 0})
@example({"cost": 2**31})
@example({"node_count": 2**31})
@example({"node_error_count": -1})
@example({"walltime": -1e-9, "cputime": 1e308, "correctness_score": 1.0})
@example({"cputime": -0.5, "walltime": 0.0, "correctness_score": 0.0})
@example({"correctness_score": 1.0000001})
@example({"correctness_score": -0.1})
@example({"walltime": 2})
@example({"cost": 7.0, "correctness_score": 1, "error": 5, "activity_status": []})
@example({"cost": True, "node_count": "3", "walltime": "1.5"})
def test_run_stats_keep_what_execution_stats_keeps_and_drop_what_it_refuses(stats):
    kept = stats_values(stats)

    expected = _kept_by_the_model(stats)
    assert kept == expected
    # The same types too: an int walltime becomes a float, a whole float cost an int.
    assert [type(v) for v in kept] == [type(v) for v in expected]
