"""A slow, garbled or picky provider: an outage pauses the job, a bad run fails alone."""

import pytest
from sqlalchemy import select

from execlens.config import Settings
from execlens.jobs.mappers import new_job
from execlens.jobs.models import JobItem, JobStatus
from execlens.jobs.schemas import JobCreate
from execlens.jobs.worker import Worker
from execlens.judge.judge import Judge
from execlens.judge.local import LOCAL_MODEL_ID, runtime_installed
from tests.fake_llm import answer
from tests.jobs.conftest import Reply, create_job, job_row, run, run_id_of, store, verdict_counts


@pytest.mark.parametrize(
    ("reply", "settings_update", "why"),
    [
        (Reply(delay=1.0, content="{}"), {"judge_timeout_seconds": 0.2}, "timed out"),
        (Reply(raw="<html>502 Bad Gateway</html>"), {}, "not a chat completion"),
        (Reply(raw="upstream connect error", status=502), {}, "HTTP 502"),
    ],
    ids=["slow", "html-200", "html-502"],
)
async def test_provider_faults_pause_the_job_and_lose_nothing(
    database, jobs_settings, fake_llm, reply, settings_update, why
):
    await store(database, [run(n) for n in range(1, 7)])
    settings = jobs_settings.model_copy(update={"judge_max_retries": 0} | settings_update)
    fake_llm.default = reply
    judge = Judge(settings)
    job_id = await create_job(database, settings, concurrency=2)

    status = await Worker(database, settings, judge).run_job(job_id)
    await judge.aclose()

    job = await job_row(database, job_id)
    assert status == JobStatus.PAUSED, job.reason
    assert why in job.reason
    assert "resume the job when it is back" in job.reason
    assert (job.succeeded, job.failed) == (0, 0)
    assert await verdict_counts(database) == {}


@pytest.mark.parametrize("concurrency", [1, 8])
async def test_a_run_the_provider_always_refuses_fails_alone_and_the_job_goes_on(
    database, jobs_settings, fake_llm, concurrency
):
    # The provider answers every run but one, whose prompt it answers with a 500 every
    # time, as the embedded model does when an answer breaks its grammar.
    await store(database, [run(n) for n in range(1, 101)])
    settings = jobs_settings.model_copy(update={"judge_max_retries": 0})
    fake_llm.policy = lambda body: (
        Reply(status=500, error="does not match the expected peg-native format")
        if run_id_of(body) == "run-050"
        else answer()
    )
    judge = Judge(settings)
    job_id = await create_job(database, settings, concurrency=concurrency)

    status = await Worker(database, settings, judge).run_job(job_id)
    await judge.aclose()

    job = await job_row(database, job_id)
    assert status == JobStatus.COMPLETED, job.reason
    assert (job.succeeded, job.failed) == (99, 1)
    counts = await verdict_counts(database)
    assert len(counts) == 99 and "run-050" not in counts
    asked = [run_id_of(r.body) for r in fake_llm.received].count("run-050")
    assert asked == 3  # its attempts, then the job moved on
    failed = select(JobItem.error).where(JobItem.job_id == job_id, JobItem.status == "failed")
    async with database.read() as session:
        errors = list((await session.execute(failed)).scalars())
    assert len(errors) == 1 and "HTTP 500" in errors[0] and "3 attempts" in errors[0]


@pytest.mark.skipif(not runtime_installed(), reason="the local model is not installed")
def test_a_job_on_the_local_model_runs_as_many_calls_as_its_server_has_slots(tmp_path):
    settings = Settings(data_dir=tmp_path)
    params = JobCreate(graph_id="g-blog", model_name=LOCAL_MODEL_ID)

    job = new_job(settings, params, created_by="test")

    # On two cores a second call at a time halves the local model's throughput.
    assert job.concurrency == settings.local_model_parallel == 1
    asked = new_job(settings, params.model_copy(update={"concurrency": 3}), created_by="test")
    assert asked.concurrency == 3
