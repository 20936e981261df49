"""REST endpoints for analytics jobs: create, estimate, watch, cancel, resume, results."""

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import (
    APIRouter,
    BackgroundTasks,
    FastAPI,
    Header,
    Query,
    Request,
    Response,
)
from fastapi.responses import StreamingResponse
from sse_starlette import EventSourceResponse

from execlens.api.deps import DatabaseDep, ReadSession, SettingsDep, WriteSession
from execlens.api.errors import error_responses
from execlens.auth.deps import AUTH_ERRORS, AdminPrincipal
from execlens.auth.service import actor_of
from execlens.jobs import export
from execlens.jobs.estimate import estimate
from execlens.jobs.mappers import job_out
from execlens.jobs.models import JobStatus
from execlens.jobs.schemas import (
    MAX_EVENT_ID,
    MAX_ITEM_ID,
    MAX_PAGE,
    JobAccepted,
    JobCreate,
    JobEstimate,
    JobOut,
    JobPage,
    JobResume,
    ResultPage,
    Timestamp,
)
from execlens.jobs.service import job_service

if TYPE_CHECKING:
    from execlens.jobs.worker import Worker

router = APIRouter(prefix="/api/analytics/jobs", tags=["analytics"], responses=AUTH_ERRORS)


def wake_worker(app: FastAPI) -> None:
    """Let the in-process worker pick a new job up at once."""
    worker: Worker | None = getattr(app.state, "worker", None)
    if worker is not None:
        worker.wake()


@router.post("", status_code=202, response_model=JobAccepted, responses=error_responses(400, 413))
async def create_job(
    body: JobCreate,
    session: WriteSession,
    settings: SettingsDep,
    principal: AdminPrincipal,
    request: Request,
    response: Response,
    background: BackgroundTasks,
) -> JobAccepted:
    """Queue an analytics job; a worker starts it at once."""
    job, resumed = await job_service.create(
        session, settings, body, created_by=actor_of(principal), acting_as=principal.acting_as
    )
    # Runs after the response, so after the commit.
    background.add_task(wake_worker, request.app)
    response.headers["Location"] = f"/api/analytics/jobs/{job.id}"
    return JobAccepted(job_id=job.id, status=job.status, resumed=resumed)


@router.post("/estimate", response_model=JobEstimate, responses=error_responses(400, 413))
async def estimate_job(
    body: JobCreate, session: ReadSession, settings: SettingsDep, _: AdminPrincipal
) -> JobEstimate:
    """Return how many executions a job would judge, with its estimated tokens and cost."""
    return await estimate(session, settings, body)


@router.get("", response_model=JobPage)
async def list_jobs(
    session: ReadSession,
    _: AdminPrincipal,
    status: Annotated[JobStatus | None, Query()] = None,
    before: Annotated[Timestamp | None, Query(description="`next_cursor` of a page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobPage:
    """List jobs, newest first."""
    jobs = await job_service.list_jobs(session, status=status, before=before, limit=limit)
    cursor = jobs[-1].created_at.isoformat() if len(jobs) == limit else None
    return JobPage(items=[job_out(j) for j in jobs], next_cursor=cursor)


@router.get("/{job_id}", response_model=JobOut, responses=error_responses(404))
async def get_job(job_id: str, session: ReadSession, _: AdminPrincipal) -> JobOut:
    """Return a job's state, counts, progress, ETA, tokens and cost."""
    return job_out(await job_service.get(session, job_id))


@router.post("/{job_id}/cancel", response_model=JobOut, responses=error_responses(404, 409))
async def cancel_job(job_id: str, session: WriteSession, principal: AdminPrincipal) -> JobOut:
    """Cancel a job: no new calls start, calls in flight are dropped, results are kept."""
    job = await job_service.cancel(
        session, job_id, actor=actor_of(principal), acting_as=principal.acting_as
    )
    return job_out(job)


@router.post(
    "/{job_id}/resume",
    status_code=202,
    response_model=JobOut,
    responses=error_responses(400, 404, 409, 413),
)
async def resume_job(
    job_id: str,
    session: WriteSession,
    request: Request,
    background: BackgroundTasks,
    principal: AdminPrincipal,
    body: JobResume | None = None,
) -> JobOut:
    """Resume a paused, cancelled or failed job, optionally with a higher cost cap."""
    job = await job_service.resume(
        session,
        job_id,
        actor=actor_of(principal),
        acting_as=principal.acting_as,
        max_cost_usd=body.max_cost_usd if body else None,
    )
    background.add_task(wake_worker, request.app)
    return job_out(job)


@router.get(
    "/{job_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **error_responses(404)},
)
async def job_events(
    job_id: str,
    database: DatabaseDep,
    settings: SettingsDep,
    _: AdminPrincipal,
    last_event_id: Annotated[int, Header(ge=0, le=MAX_EVENT_ID)] = 0,
) -> EventSourceResponse:
    """Stream progress and each finished item as Server-Sent Events until the job stops."""
    # No ReadSession dependency: it would hold a pooled connection until the stream ends.
    async with database.read() as session:
        await job_service.get(session, job_id)
    events = export.events(database, job_id, after=last_event_id, poll=settings.job_poll_seconds)

    async def stream() -> AsyncIterator[dict[str, str | None]]:
        async for event, event_id, data in events:
            yield {"event": event, "id": event_id, "data": data}

    return EventSourceResponse(stream(), ping=15)


@router.get(
    "/{job_id}/results",
    response_model=ResultPage,
    responses={200: {"content": {"text/csv": {}}}, **error_responses(404)},
)
async def job_results(
    job_id: str,
    database: DatabaseDep,
    _: AdminPrincipal,
    format: Literal["json", "csv"] = "json",
    status: Annotated[Literal["success", "failed", "skipped"] | None, Query()] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_ITEM_ID, description="`next_cursor` of a page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> ResultPage | StreamingResponse:
    """Return a job's results: a JSON page, or (format=csv) all of them as a CSV download."""
    # Short sessions, not ReadSession: a CSV download would hold its connection while the
    # client reads, however slowly.
    if format == "csv":
        async with database.read() as session:
            await job_service.get(session, job_id)
        return StreamingResponse(
            export.csv_rows(database, job_id, status=status),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="execlens-job-{job_id}.csv"'},
        )
    async with database.read() as session:
        items = await job_service.results(session, job_id, after=after, limit=limit, status=status)
    cursor = items[-1].item_id if len(items) == limit else None
    return ResultPage(items=items, next_cursor=cursor)
