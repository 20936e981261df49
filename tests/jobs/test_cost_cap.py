"""The cost cap pauses a job only when it pays for no more verdicts."""

from execlens.jobs.models import JobStatus
from tests.fake_llm import FakeLLM
from tests.jobs.conftest import run, store, verdict_counts, wait_for

JOBS = "/api/analytics/jobs"
# gpt-4.1-mini: 420 input + 38 output tokens cost about $0.000229 per call.
PER_VERDICT = 0.000229


def finished(job) -> bool:
    return job.status not in (JobStatus.QUEUED, JobStatus.RUNNING)


async def test_a_job_whose_cap_pays_for_every_run_completes_instead_of_pausing(
    database, api, worker, fake_llm: FakeLLM
):
    await store(database, [run(n) for n in range(1, 4)])
    # Enough for about six verdicts: more than the three runs, fewer than the 8 slots.
    body = {"graph_id": "g-blog", "concurrency": 8, "max_cost_usd": 6.5 * PER_VERDICT}
    job_id = (await api.post(JOBS, json=body)).json()["job_id"]

    job = await wait_for(database, job_id, finished)

    assert (job.status, job.reason) == (JobStatus.COMPLETED, None)
    assert job.succeeded == 3
    assert len(await verdict_counts(database)) == 3


async def test_a_job_held_back_by_its_rate_does_not_pause_while_the_cap_pays_for_a_verdict(
    database, api, worker, fake_llm: FakeLLM
):
    await store(database, [run(n) for n in range(1, 5)])
    # The cap pays for about three verdicts; one call a second, so the rate holds every
    # call but the first back while the cap still pays for more.
    body = {
        "graph_id": "g-blog",
        "concurrency": 4,
        "max_cost_usd": 3.5 * PER_VERDICT,
        "requests_per_minute": 60,
    }
    job_id = (await api.post(JOBS, json=body)).json()["job_id"]

    job = await wait_for(database, job_id, finished)

    assert job.status == JobStatus.PAUSED
    assert job.reason.startswith("cost cap reached")
    # Paused only once the cap pays for no more verdict, at the higher of the estimated
    # and the actual cost of one.
    per_verdict = max(job.est_cost_per_item or 0.0, job.cost_usd / job.llm_calls)
    assert job.max_cost_usd - job.cost_usd < per_verdict
    assert job.succeeded >= 2
    assert job.cost_usd <= 3.5 * PER_VERDICT
