"""The analytics fixtures (a fake LLM, an app configured with it), for the upstream routes."""

from tests.jobs.conftest import api, jobs_settings  # noqa: F401  (fixtures)
from tests.judge.conftest import fake_llm, judge_settings  # noqa: F401  (fixtures)
