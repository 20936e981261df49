"""Answer AutoGPT's routes with execlens's own services, in upstream's shapes."""

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from execlens.config import Settings
from execlens.db.engine import Database, Dialect
from execlens.errors import UpstreamError
from execlens.jobs import export
from execlens.jobs.driver import JobDriver
from execlens.jobs.models import JobStatus
from execlens.jobs.schemas import ExecutionAnalyticsResponse, JobCreate
from execlens.judge.prompts import DEFAULT_SYSTEM_PROMPT, DEFAULT_USER_PROMPT
from execlens.judge.providers import model_options, recommended_model, unavailable_model_options
from execlens.trends.schemas import AccuracyLatestData, AccuracyTrendsResponse, TrendQuery
from execlens.trends.service import trend_service
from execlens.upstream.schemas import (
    ExecutionAnalyticsConfig,
    ExecutionAnalyticsRequest,
    ModelOption,
    UnavailableModel,
    UpstreamTrendQuery,
)

if TYPE_CHECKING:
    from execlens.judge.judge import Judge


class UpstreamService:
    """The logic behind AutoGPT's three admin analytics routes."""

    def config(self, settings: Settings) -> ExecutionAnalyticsConfig:
        """Return the models an admin can judge with, the default prompts and the preferred one."""
        recommended = recommended_model(settings) or ""
        return ExecutionAnalyticsConfig(
            available_models=[ModelOption(**o) for o in model_options(settings, recommended)],
            default_system_prompt=DEFAULT_SYSTEM_PROMPT,
            default_user_prompt=DEFAULT_USER_PROMPT,
            recommended_model=recommended,
            unavailable_models=[UnavailableModel(**o) for o in unavailable_model_options(settings)],
        )

    async def report(
        self,
        database: Database,
        settings: Settings,
        judge: "Judge",
        request: ExecutionAnalyticsRequest,
        *,
        created_by: str,
        acting_as: str | None,
    ) -> ExecutionAnalyticsResponse:
        """Judge an agent's finished runs as one job, wait for it, and return its report."""
        driver = JobDriver(database, settings, judge, kind="request")
        params = JobCreate(**request.model_dump())
        submitted = await driver.submit(params, created_by=created_by, acting_as=acting_as)
        # If the client goes away, the job stays queued and the server's worker finishes it.
        job = await driver.wait(submitted, actor=created_by)
        if job.status == JobStatus.FAILED.value:
            raise UpstreamError(f"analytics job {job.id} failed: {job.reason}")
        async with database.read() as session:
            return await export.report(session, job.id)

    async def trends(
        self,
        session: AsyncSession,
        dialect: Dialect,
        settings: Settings,
        query: UpstreamTrendQuery,
    ) -> AccuracyTrendsResponse:
        """Return a graph's trend as upstream computes and shapes it, unless told otherwise."""
        window = query.window or settings.upstream_trends_window
        trend = await trend_service.trends(
            session, dialect, TrendQuery(**query.model_dump(exclude={"window"}), window=window)
        )
        history = [_as_date(point) for point in trend.historical_data or []]
        latest = trend.latest_data
        return trend.model_copy(
            update={
                # With no day of data, upstream's latest_data is a placeholder dated now.
                "latest_data": _as_date(latest) if latest.executions else latest,
                # Upstream sends null, not [], when no day has data.
                "historical_data": history or None,
            }
        )


def _as_date(point: AccuracyLatestData) -> AccuracyLatestData:
    # Upstream's days come from SQL DATE(), which has no zone: "2026-11-27T00:00:00".
    return point.model_copy(update={"date": point.date.replace(tzinfo=None)})


upstream_service = UpstreamService()
