"""`execlens judge-eval`: judge labelled runs with candidate judges, then measure agreement.

Each candidate runs as an evaluation job over the labelled runs: a durable, cost-capped
job like any backfill, whose verdicts join the runs' history (so `execlens agreement`
lists the candidate too) but never replace the scores the trends and alerts read.
"""

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from execlens.config import Settings
from execlens.errors import UserError
from execlens.jobs.driver import JobDriver
from execlens.jobs.mappers import new_job
from execlens.jobs.schemas import MAX_PAGE, JobCreate, JobOut
from execlens.jobs.service import job_service
from execlens.labels import repository as labels_repository
from execlens.labels.agreement import Agreement, agreement
from execlens.labels.schemas import LabelLine

# An evaluation job's runs are given, not selected by agent: it names no graph.
EVALUATION_GRAPH = "*"


@dataclass(frozen=True)
class Candidate:
    """A judge configuration to try: a model and, optionally, its own prompts."""

    model: str | None
    system_prompt: str | None = None
    user_prompt: str | None = None


@dataclass(frozen=True)
class CandidateResult:
    """How a candidate's verdicts on the labelled runs agree with the labels."""

    job: JobOut
    prompt_hash: str
    agreement: Agreement


def candidate_job(
    candidate: Candidate, *, max_cost_usd: float | None, concurrency: int | None
) -> JobCreate:
    """Return the evaluation job's parameters for one candidate."""
    return JobCreate(
        graph_id=EVALUATION_GRAPH,
        model_name=candidate.model,
        system_prompt=candidate.system_prompt,
        user_prompt=candidate.user_prompt,
        skip_existing=False,
        max_cost_usd=max_cost_usd,
        concurrency=concurrency,
    )


def check_jobs(settings: Settings, jobs: Sequence[JobCreate]) -> None:
    """Raise UserError naming the fix if any candidate cannot run, before any is started."""
    for params in jobs:
        new_job(settings, params, "check")


async def labels_to_use(
    session: AsyncSession, lines: Sequence[tuple[int, LabelLine]] | None
) -> dict[str, float]:
    """Return each labelled run's label: from the file's lines, or the stored labels."""
    if lines is None:
        return await labels_repository.mean_labels(session)
    missing = await labels_repository.missing_executions(
        session, [line.execution_id for _, line in lines]
    )
    for number, line in lines:
        if line.execution_id in missing:
            raise UserError(
                f"line {number}: execution_id: no execution {line.execution_id!r} is stored "
                "(import the run first, or drop the line)"
            )
    # A later line for the same run wins, as in `execlens labels import`.
    return {line.execution_id: line.score for _, line in lines}


async def _scores(session: AsyncSession, job_id: str) -> dict[str, float]:
    """Return the score the job gave each run it judged."""
    scores: dict[str, float] = {}
    after: int | None = None
    while True:
        page = await job_service.results(
            session, job_id, after=after, limit=MAX_PAGE, status="success"
        )
        scores |= {r.exec_id: r.score for r in page if r.score is not None}
        if len(page) < MAX_PAGE:
            return scores
        after = page[-1].item_id


async def evaluate(
    driver: JobDriver,
    jobs: Sequence[JobCreate],
    labels: dict[str, float],
    *,
    threshold: float,
    actor: str,
    interrupted: asyncio.Event | None = None,
    on_progress: Callable[[JobOut], None] | None = None,
) -> list[CandidateResult]:
    """Judge the labelled runs with each candidate in turn; return each one's agreement.

    ``interrupted`` cancels the running candidate's job and starts no other.
    """
    results = []
    for params in jobs:
        if interrupted is not None and interrupted.is_set():
            break
        submitted = await driver.submit_evaluation(params, list(labels), created_by=actor)
        job = await driver.wait(
            submitted, actor=actor, interrupted=interrupted, on_progress=on_progress
        )
        async with driver.db.read() as session:
            stored = await job_service.get(session, job.id)
            scores = await _scores(session, job.id)
        ids = sorted(scores)
        measured = agreement([scores[i] for i in ids], [labels[i] for i in ids], threshold)
        results.append(CandidateResult(job, stored.prompt_hash, measured))
    return results
