"""Jobs under a provider's rate limit: they wait their turn, share one budget, say so."""

import asyncio
import logging
from collections import Counter

from execlens.jobs.cli import limit_text
from execlens.jobs.models import JobStatus
from execlens.jobs.schemas import JobOut
from execlens.jobs.worker import Worker
from execlens.judge.judge import Judge
from tests.fake_llm import FakeLLM, RateLimit
from tests.jobs.conftest import create_job, finished, job_row, run, store, until, wait_for
from tests.jobs.test_durability import items_of

JOBS = "/api/analytics/jobs"
# The fake's answers cost 420 + 38 tokens each.
TOKENS_PER_CALL = 458


def calls_per_second(limit: RateLimit) -> float:
    return min(limit.requests_per_minute, limit.tokens_per_minute / TOKENS_PER_CALL) / 60


async def test_a_job_under_the_providers_limit_waits_its_turn_and_no_run_fails(
    database, jobs_settings, fake_llm: FakeLLM
):
    # 4 calls a second by tokens, announced in the headers; a burst of 2 seconds.
    limit = RateLimit(1200, 4 * 60 * TOKENS_PER_CALL, burst_seconds=2)
    fake_llm.rate_limit = limit
    await store(database, [run(n) for n in range(1, 31)])
    judge = Judge(jobs_settings)
    job_id = await create_job(database, jobs_settings, concurrency=16)

    status = await Worker(database, jobs_settings, judge).run_job(job_id)
    await judge.aclose()

    job = await job_row(database, job_id)
    assert status == JobStatus.COMPLETED, job.reason
    assert (job.succeeded, job.failed) == (30, 0)
    assert limit.refused <= 1, f"{limit.refused} of {len(fake_llm.received)} calls refused"
    # Never faster than the limit: the bucket held 2 seconds, the rest came at its rate.
    starts = sorted(r.at for r in fake_llm.received)
    assert starts[-1] - starts[0] >= (30 - 8) / calls_per_second(limit)


async def test_two_workers_share_one_budget_per_provider_key(
    database, jobs_settings, fake_llm: FakeLLM
):
    limit = RateLimit(600, 8 * 60 * TOKENS_PER_CALL, burst_seconds=2)
    fake_llm.rate_limit = limit
    await store(database, [run(n) for n in range(1, 49)])
    judges = [Judge(jobs_settings), Judge(jobs_settings)]  # each process learns on its own
    job_id = await create_job(database, jobs_settings, concurrency=16)

    statuses = await asyncio.gather(
        *(Worker(database, jobs_settings, judge).run_job(job_id) for judge in judges)
    )
    for judge in judges:
        await judge.aclose()

    job = await job_row(database, job_id)
    assert JobStatus.COMPLETED in statuses, job.reason
    assert (job.succeeded, job.failed) == (48, 0)
    # Two budgets of their own would each spend the whole limit: half the calls refused.
    assert limit.refused <= 3, f"{limit.refused} of {len(fake_llm.received)} calls refused"


async def test_nonsense_limits_fall_back_with_one_warning_and_never_stall(
    database, jobs_settings, fake_llm: FakeLLM, caplog
):
    caplog.set_level(logging.WARNING, logger="execlens.judge")
    fake_llm.rate_limit = RateLimit(
        100_000,
        10**9,
        announce={"x-ratelimit-limit-tokens": "-60000", "x-ratelimit-reset-tokens": "soon"},
    )
    await store(database, [run(n) for n in range(1, 21)])
    judge = Judge(jobs_settings)
    job_id = await create_job(database, jobs_settings, concurrency=8)

    status = await asyncio.wait_for(Worker(database, jobs_settings, judge).run_job(job_id), 60)
    await judge.aclose()

    job = await job_row(database, job_id)
    assert (status, job.succeeded, job.failed) == (JobStatus.COMPLETED, 20, 0)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warnings if "make no sense" in w]) == 1


async def test_the_progress_says_the_job_is_held_to_its_tokens_per_minute(
    database, api, worker, fake_llm: FakeLLM
):
    await store(database, [run(n) for n in range(1, 13)])
    # Two calls a second at most, however many may be in flight.
    tpm = 2 * 60 * TOKENS_PER_CALL
    body = {"graph_id": "g-blog", "concurrency": 8, "tokens_per_minute": tpm}

    job_id = (await api.post(JOBS, json=body)).json()["job_id"]
    job = (await api.get(f"{JOBS}/{job_id}")).json()
    # Once calls have come back, the job knows what a call costs in tokens.
    while (job["provider_limit"] is None or job["llm_calls"] < 2) and job["status"] in (
        "queued",
        "running",
    ):
        await asyncio.sleep(0.05)
        job = (await api.get(f"{JOBS}/{job_id}")).json()
    done = await wait_for(database, job_id, finished)

    limit = job["provider_limit"]
    assert limit is not None, job
    assert (limit["limited_by"], limit["tokens_per_minute"]) == ("tokens", tpm)
    # The rest at two calls a second: never more than the whole job's six seconds.
    assert 0 < limit["eta_seconds"] <= 6
    assert job["tokens_per_minute"] == tpm
    # The CLI's progress bar says the same.
    shown = limit_text(JobOut.model_validate(job))
    assert shown.startswith(f"provider-limited: {tpm:,} tokens/min, ") and "left" in shown
    assert (done.status, done.succeeded) == (JobStatus.COMPLETED, 12)
    # Finished, the job is held to nothing.
    assert (await api.get(f"{JOBS}/{job_id}")).json()["provider_limit"] is None


async def test_before_any_limit_is_known_a_small_first_wave_learns_it_without_refusals(
    database, jobs_settings, fake_llm: FakeLLM
):
    # The provider's bucket holds 6 calls; the job may have 16 in flight.
    limit = RateLimit(600, 3 * 60 * TOKENS_PER_CALL, burst_seconds=2)
    fake_llm.rate_limit = limit
    fake_llm.default.delay = 0.2
    await store(database, [run(n) for n in range(1, 25)])
    judge = Judge(jobs_settings)
    job_id = await create_job(database, jobs_settings, concurrency=16)

    status = await Worker(database, jobs_settings, judge).run_job(job_id)
    await judge.aclose()

    job = await job_row(database, job_id)
    assert (status, job.succeeded, job.failed) == (JobStatus.COMPLETED, 24, 0)
    # A first burst of 16 calls would have had 10 refused.
    assert limit.refused == 0, f"{limit.refused} of {len(fake_llm.received)} calls refused"


async def test_a_worker_that_joins_a_busy_job_gets_calls_when_the_provider_announces_no_limit(
    database, jobs_settings, fake_llm: FakeLLM
):
    # A local server (Ollama, vLLM) says nothing of limits: the first worker's answers
    # tell every worker that nothing is announced, not only the one that heard them.
    fake_llm.default.delay = 0.3
    await store(database, [run(n) for n in range(1, 41)])
    job_id = await create_job(database, jobs_settings, concurrency=8)
    judges = [Judge(jobs_settings), Judge(jobs_settings)]  # two processes
    workers = [Worker(database, jobs_settings, judge) for judge in judges]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(workers[0].run(stop))]
    try:
        # The first worker has heard its first answers and holds more calls than a first wave.
        await until(lambda: len(fake_llm.received) >= 8)
        tasks.append(asyncio.create_task(workers[1].run(stop)))
        job = await wait_for(database, job_id, finished, seconds=60)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for judge in judges:
            await judge.aclose()

    assert (job.status, job.succeeded) == (JobStatus.COMPLETED, 40)
    by_worker = Counter(i.judged_by for i in await items_of(database, job_id))
    assert by_worker[workers[1].id] >= 5, by_worker
