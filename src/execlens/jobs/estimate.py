"""Estimate a job before it runs: how many runs it would judge, its tokens and its cost."""

from sqlalchemy.ext.asyncio import AsyncSession

from execlens.config import Settings
from execlens.jobs import repository
from execlens.jobs.mappers import new_job
from execlens.jobs.models import AnalyticsJob
from execlens.jobs.schemas import JobCreate, JobEstimate
from execlens.judge.catalog import estimate_cost_usd
from execlens.judge.digest import estimate_tokens
from execlens.judge.judge import Judge, JudgeRequest
from execlens.judge.providers import resolve_model
from execlens.judge.rules import apply_rules
from execlens.judge.service import judge_service

ESTIMATE_SAMPLE = 20
# A verdict is one to three sentences and a score: about 60-120 tokens of JSON.
EXPECTED_OUTPUT_TOKENS = 120


async def estimate(session: AsyncSession, settings: Settings, params: JobCreate) -> JobEstimate:
    """Return how many executions a job would judge, and its tokens and cost."""
    job = new_job(settings, params, created_by="estimate")
    counts = await repository.count_candidates(session, job)
    return await estimate_job(session, settings, job, counts)


async def _sample_input_tokens(
    session: AsyncSession, settings: Settings, job: AnalyticsJob, sample: list[str]
) -> tuple[int, int]:
    """Return how many sampled runs rules settle, and the prompt tokens of the others."""
    judge = Judge(settings)
    request = JudgeRequest(job.model, job.system_prompt, job.user_prompt)
    by_rules = tokens_in = 0
    for execution, graph in (await judge_service.load_many(session, sample, {})).values():
        if apply_rules(execution) is not None:
            by_rules += 1
            continue
        call = judge.prepare(execution, graph, request)
        tokens_in += estimate_tokens(call.system_prompt) + estimate_tokens(call.user_prompt)
    return by_rules, tokens_in


async def estimate_job(
    session: AsyncSession, settings: Settings, job: AnalyticsJob, counts: tuple[int, int]
) -> JobEstimate:
    """Estimate ``job`` from its candidate counts and a sample of the runs it would judge."""
    matching, to_judge = counts
    if job.max_executions is not None:
        to_judge = min(to_judge, job.max_executions)
    sample = await repository.sample_to_judge(session, job, ESTIMATE_SAMPLE)
    by_rules, tokens_in = await _sample_input_tokens(session, settings, job, sample)
    llm_share = (len(sample) - by_rules) / len(sample) if sample else 1.0
    per_call_in = tokens_in / (len(sample) - by_rules) if len(sample) > by_rules else 0
    calls = round(to_judge * llm_share)
    entry = resolve_model(settings, job.model)
    input_tokens = round(calls * per_call_in)
    output_tokens = calls * EXPECTED_OUTPUT_TOKENS
    cost = estimate_cost_usd(entry, input_tokens, output_tokens)
    per_execution = estimate_cost_usd(
        entry, round(per_call_in * llm_share), round(EXPECTED_OUTPUT_TOKENS * llm_share)
    )
    return JobEstimate(
        model=entry.id,
        provider=entry.provider,
        matching_executions=matching,
        to_judge=to_judge,
        sampled=len(sample),
        judged_by_rules=by_rules / len(sample) if sample else 0.0,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cost,
        cost_per_execution_usd=per_execution,
    )
