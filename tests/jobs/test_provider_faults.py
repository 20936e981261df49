"""A slow or garbled provider: runs are kept for later and the job says why it paused."""

import pytest

from execlens.jobs.models import JobStatus
from execlens.jobs.worker import Worker
from execlens.judge.judge import Judge
from tests.jobs.conftest import Reply, create_job, job_row, run, store, verdict_counts


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
