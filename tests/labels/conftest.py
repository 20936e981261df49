"""Fixtures for label tests: stored runs and verdicts of two judge configurations."""

from datetime import UTC, datetime, timedelta

from execlens.db.engine import Database
from execlens.judge.schemas import Verdict
from execlens.judge.service import judge_service
from tests.jobs.conftest import run, store

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

__all__ = ["judge_runs", "run", "store"]


async def judge_runs(
    database: Database, scores: dict[str, float], *, model: str = "gpt-test", minutes: int = 0
) -> None:
    """Store one verdict per run from a judge with the given model."""
    verdicts = [
        Verdict(
            execution_id=execution_id,
            activity_status="The agent did its job.",
            correctness_score=score,
            judge="llm",
            judge_version="test",
            provider="openai",
            model=model,
            prompt_hash="0" * 16,
            input_tokens=10,
            output_tokens=5,
            cost_usd=None,
            latency_ms=1,
            digest_tokens=10,
            digest_truncated=False,
            created_at=T0 + timedelta(minutes=minutes),
        )
        for execution_id, score in scores.items()
    ]
    async with database.write() as session:
        await judge_service.store(session, verdicts)
