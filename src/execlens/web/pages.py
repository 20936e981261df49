"""The dashboard's pages: HTML shells whose scripts call the JSON API with the session cookie."""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from execlens.executions.models import ExecutionStatus
from execlens.web import login
from execlens.web.docs import install_docs
from execlens.web.render import render
from execlens.web.session import SignInRequired, login_url, page_principal

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_principal)])


@router.get("/")
async def home() -> Response:
    """Open the analytics page."""
    return RedirectResponse("/analytics", status_code=303)


@router.get("/analytics")
async def analytics_page(request: Request) -> Response:
    """Show the form that estimates and starts an analytics job."""
    return render(request, "analytics.html", page="analytics")


@router.get("/jobs")
async def jobs_page(request: Request) -> Response:
    """List analytics jobs."""
    return render(request, "jobs.html", page="jobs")


@router.get("/jobs/{job_id}")
async def job_page(
    request: Request, job_id: Annotated[str, PathParam(min_length=1, max_length=64)]
) -> Response:
    """Show one job's live progress and its results."""
    return render(request, "job.html", page="jobs", job_id=job_id)


@router.get("/executions")
async def executions_page(request: Request) -> Response:
    """List runs with filters, a page at a time."""
    return render(request, "executions.html", page="executions", statuses=list(ExecutionStatus))


@router.get("/executions/{execution_id}")
async def execution_page(
    request: Request, execution_id: Annotated[str, PathParam(min_length=1, max_length=200)]
) -> Response:
    """Show one run: facts, timeline, the digest the judge read, verdicts and labels."""
    return render(request, "execution.html", page="executions", execution_id=execution_id)


@router.get("/rules")
async def rules_page(request: Request) -> Response:
    """List judging rules with their spend, backlog and lag; add, pause or delete one."""
    return render(request, "rules.html", page="rules")


@router.get("/trends")
async def trends_page(request: Request) -> Response:
    """Show an agent's accuracy trend, its alert and every agent's overview."""
    return render(request, "trends.html", page="trends")


@router.get("/alerts")
async def alerts_page(request: Request) -> Response:
    """List the monitor's accuracy alerts."""
    return render(request, "alerts.html", page="alerts")


async def _sign_in_redirect(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(login_url(exc.path, exc.reason), status_code=303)


def install_dashboard(app: FastAPI) -> None:
    """Serve the dashboard on ``app``: sign-in, pages, the API docs and static assets."""
    app.add_exception_handler(SignInRequired, _sign_in_redirect)
    app.include_router(login.router)
    app.include_router(router)
    install_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
