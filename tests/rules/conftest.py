"""Fixtures for judging rules: those of backfill jobs (a fake LLM, a worker, an admin API)."""

from tests.jobs.conftest import (  # noqa: F401  (fixtures)
    api,
    fake_llm,
    jobs_settings,
    judge,
    judge_settings,
    worker,
)
