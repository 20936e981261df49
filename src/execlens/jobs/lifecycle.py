"""A job's states and the only code that moves a job from one to another.

The service (cancel, resume) and the runner (start, complete, pause, fail) both change a
job's status here, so the allowed transitions are written once, in ``TRANSITIONS``.
"""

from datetime import datetime

from execlens.errors import ConflictError
from execlens.jobs.models import AnalyticsJob, JobStatus

Q, R, P, C, D, F = (
    JobStatus.QUEUED,
    JobStatus.RUNNING,
    JobStatus.PAUSED,
    JobStatus.CANCELLED,
    JobStatus.COMPLETED,
    JobStatus.FAILED,
)

# From each status, the statuses a job may move to. A completed job never changes.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    Q: frozenset({R, P, F, C}),
    R: frozenset({D, P, F, C}),
    P: frozenset({Q, C}),
    F: frozenset({Q, C}),
    C: frozenset({Q}),
    D: frozenset(),
}

# Statuses a job leaves by being resumed, in the order messages name them.
RESUMABLE_STATUSES = tuple(s for s in JobStatus if Q in TRANSITIONS[s])


class IllegalTransition(ConflictError):
    """The job's current status does not allow the change asked for (409)."""


def can_move(job: AnalyticsJob, to: JobStatus) -> bool:
    """Return True when ``job`` may move to ``to`` from its current status."""
    return to in TRANSITIONS[JobStatus(job.status)]


def _refusal(job: AnalyticsJob, to: JobStatus) -> str:
    """Say why ``job`` cannot move to ``to``, and what would be allowed."""
    if to == Q:
        names = [s.value for s in RESUMABLE_STATUSES]
        allowed = ", ".join(names[:-1]) + " or " + names[-1]
        return f"job {job.id} is {job.status}; only {allowed} jobs resume"
    if to == C:
        return f"job {job.id} is already {job.status}"
    return f"job {job.id} is {job.status}; it cannot become {to.value}"


def move(job: AnalyticsJob, to: JobStatus, *, now: datetime, reason: str | None = None) -> None:
    """Move ``job`` to ``to``, or raise IllegalTransition; record when and why."""
    if not can_move(job, to):
        raise IllegalTransition(_refusal(job, to))
    job.status = to
    job.updated_at = now
    if to == Q:
        job.reason = job.finished_at = None
    elif to == R:
        job.run_started_at = now
        job.done_at_run_start = job.succeeded + job.failed
    else:
        job.reason = reason
        job.finished_at = now


def start(job: AnalyticsJob, now: datetime) -> None:
    """Mark a queued job running: its rate and ETA count from now."""
    move(job, R, now=now)


def complete(job: AnalyticsJob, now: datetime) -> None:
    """Mark a running job completed: every selected run has an outcome."""
    move(job, D, now=now)


def pause(job: AnalyticsJob, now: datetime, reason: str) -> None:
    """Pause an active job for ``reason``; resuming it judges the rest."""
    move(job, P, now=now, reason=reason)


def fail(job: AnalyticsJob, now: datetime, reason: str) -> None:
    """Fail an active job for ``reason``, something every item would hit."""
    move(job, F, now=now, reason=reason)


def cancel(job: AnalyticsJob, now: datetime) -> None:
    """Cancel a job that is not finished or cancelled already."""
    move(job, C, now=now, reason="cancelled; finished results are kept, resume to judge the rest")


def requeue(job: AnalyticsJob, now: datetime) -> None:
    """Queue a paused, cancelled or failed job again."""
    move(job, Q, now=now)
