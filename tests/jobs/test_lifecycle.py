"""A job's status changes only along the transitions written in jobs.lifecycle."""

from datetime import UTC, datetime

import pytest

from execlens.jobs import lifecycle
from execlens.jobs.models import AnalyticsJob, JobStatus

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PAIRS = [(a, b) for a in JobStatus for b in JobStatus]


def job_in(status: JobStatus) -> AnalyticsJob:
    return AnalyticsJob(id="j-1", status=status, reason="earlier", succeeded=3, failed=1)


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_a_transition_outside_the_table_is_a_409_and_changes_nothing(source, target):
    job = job_in(source)
    if target in lifecycle.TRANSITIONS[source]:
        lifecycle.move(job, target, now=NOW, reason="why")
        assert job.status == target
        assert job.updated_at == NOW
        return
    with pytest.raises(lifecycle.IllegalTransition) as refused:
        lifecycle.move(job, target, now=NOW, reason="why")
    assert refused.value.status_code == 409
    assert f"job j-1 is {'already ' if target == JobStatus.CANCELLED else ''}{source}" in str(
        refused.value
    )
    assert (job.status, job.reason, job.updated_at) == (source, "earlier", None)


def test_a_completed_job_never_changes_and_only_stopped_jobs_resume():
    assert lifecycle.TRANSITIONS[JobStatus.COMPLETED] == frozenset()
    assert lifecycle.RESUMABLE_STATUSES == (
        JobStatus.PAUSED,
        JobStatus.CANCELLED,
        JobStatus.FAILED,
    )
    running = job_in(JobStatus.RUNNING)
    with pytest.raises(lifecycle.IllegalTransition, match="only paused, cancelled or failed"):
        lifecycle.requeue(running, NOW)


def test_each_transition_records_what_the_job_page_shows():
    job = job_in(JobStatus.QUEUED)
    lifecycle.start(job, NOW)
    assert (job.run_started_at, job.done_at_run_start) == (NOW, 4)
    lifecycle.pause(job, NOW, "cost cap reached")
    assert (job.status, job.reason, job.finished_at) == ("paused", "cost cap reached", NOW)
    lifecycle.requeue(job, NOW)
    assert (job.status, job.reason, job.finished_at) == ("queued", None, None)
    lifecycle.cancel(job, NOW)
    assert job.reason == "cancelled; finished results are kept, resume to judge the rest"
