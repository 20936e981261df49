"""Create, find, cancel and resume jobs, and page through their results."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from execlens.audit.service import audit_service
from execlens.config import Settings
from execlens.errors import NotFoundError
from execlens.jobs import lifecycle, repository
from execlens.jobs.clock import utcnow
from execlens.jobs.estimate import estimate_job
from execlens.jobs.mappers import job_result, new_job
from execlens.jobs.models import ACTIVE_STATUSES, AnalyticsJob, ItemStatus, JobStatus
from execlens.jobs.schemas import JobCreate, JobResult


class JobService:
    """The logic behind the jobs API, CLI and dashboard."""

    async def create(
        self,
        session: AsyncSession,
        settings: Settings,
        params: JobCreate,
        *,
        created_by: str,
        acting_as: str | None = None,
        resume_same: bool = False,
    ) -> tuple[AnalyticsJob, bool]:
        """Queue a job; with ``resume_same``, resume an unfinished one with the same settings."""
        job = new_job(settings, params, created_by)
        if resume_same and (existing := await self._unfinished_twin(session, job)):
            existing.concurrency = job.concurrency
            existing.requests_per_minute = job.requests_per_minute
            existing.tokens_per_minute = job.tokens_per_minute
            existing.max_cost_usd = job.max_cost_usd
            if lifecycle.can_move(existing, JobStatus.QUEUED):
                lifecycle.requeue(existing, utcnow())
            self._audit(session, existing, "resumed", created_by, acting_as)
            return existing, True
        counts = await repository.count_candidates(session, job)
        matching, to_judge = counts
        # An upper bound until selection ends: with a limit, fewer may be taken.
        limit = job.max_executions
        job.total = matching if limit is None else matching - to_judge + min(to_judge, limit)
        if job.max_cost_usd is not None:
            estimate = await estimate_job(session, settings, job, counts)
            job.est_cost_per_item = estimate.cost_per_execution_usd
        session.add(job)
        self._audit(
            session,
            job,
            "created",
            created_by,
            acting_as,
            params.model_dump(mode="json", exclude={"system_prompt", "user_prompt"}),
        )
        await session.flush()
        return job, False

    async def create_evaluation(
        self,
        session: AsyncSession,
        settings: Settings,
        params: JobCreate,
        execution_ids: Sequence[str],
        *,
        created_by: str,
    ) -> AnalyticsJob:
        """Queue a candidate judge's job over the given runs; its verdicts stay history only."""
        job = new_job(settings, params, created_by)
        job.evaluation = True
        job.selection_done = True
        ids = sorted(set(execution_ids))
        job.total = job.selected = job.to_judge = len(ids)
        session.add(job)
        await session.flush()
        rows = [
            {"job_id": job.id, "execution_id": i, "status": ItemStatus.PENDING, "attempts": 0}
            for i in ids
        ]
        await repository.insert_items(session, rows)
        details = params.model_dump(mode="json", exclude={"system_prompt", "user_prompt"})
        self._audit(session, job, "created", created_by, None, details | {"evaluation": len(ids)})
        return job

    async def _unfinished_twin(
        self, session: AsyncSession, job: AnalyticsJob
    ) -> AnalyticsJob | None:
        """Return the newest active or resumable job with ``job``'s parameters."""
        statuses = (*ACTIVE_STATUSES, *lifecycle.RESUMABLE_STATUSES)
        return await repository.find_resumable(session, job.params_key, statuses)

    def _audit(
        self,
        session: AsyncSession,
        job: AnalyticsJob,
        what: str,
        actor: str,
        acting_as: str | None,
        details: dict[str, Any] | None = None,
    ) -> None:
        audit_service.record(
            session,
            actor=actor,
            acting_as=acting_as,
            action=f"analytics_job.{what}",
            target_type="analytics_job",
            target_id=job.id,
            details=details,
        )

    async def get(self, session: AsyncSession, job_id: str, *, lock: bool = False) -> AnalyticsJob:
        """Return a job, or raise NotFoundError."""
        job = await repository.get_job(session, job_id, lock=lock)
        if job is None:
            raise NotFoundError(f"no analytics job with id {job_id!r}")
        return job

    async def list_jobs(
        self, session: AsyncSession, *, status: str | None, before: datetime | None, limit: int
    ) -> list[AnalyticsJob]:
        """Return jobs newest first."""
        return list(await repository.list_jobs(session, status=status, before=before, limit=limit))

    async def cancel(
        self, session: AsyncSession, job_id: str, *, actor: str, acting_as: str | None = None
    ) -> AnalyticsJob:
        """Stop a job: workers start no new calls and abandon the ones in flight."""
        job = await self.get(session, job_id, lock=True)
        lifecycle.cancel(job, utcnow())
        self._audit(session, job, "cancelled", actor, acting_as)
        return job

    async def resume(
        self,
        session: AsyncSession,
        job_id: str,
        *,
        actor: str,
        acting_as: str | None = None,
        max_cost_usd: float | None = None,
    ) -> AnalyticsJob:
        """Queue a paused, cancelled or failed job again, optionally with a new cost cap."""
        job = await self.get(session, job_id, lock=True)
        lifecycle.requeue(job, utcnow())
        if max_cost_usd is not None:
            job.max_cost_usd = max_cost_usd
        self._audit(session, job, "resumed", actor, acting_as, {"max_cost_usd": max_cost_usd})
        return job

    async def results(
        self,
        session: AsyncSession,
        job_id: str,
        *,
        after: int | None,
        limit: int,
        status: str | None = None,
    ) -> list[JobResult]:
        """Return a page of a job's results in selection order."""
        await self.get(session, job_id)
        rows = await repository.results_page(
            session, job_id, after_id=after, limit=limit, status=status
        )
        return [job_result(item, execution) for item, execution in rows]


job_service = JobService()
