"""Build the FastAPI application."""

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import Depends, FastAPI

from execlens import __version__
from execlens.api.deps import NoNulInUrl
from execlens.api.errors import install_error_handlers
from execlens.api.headers import SecurityHeaders
from execlens.api.limits import BodySizeLimit, RateLimiter
from execlens.audit.endpoints import router as audit_router
from execlens.auth.deps import AUTH_ERRORS, require_admin
from execlens.auth.gate import AuthenticateFirst
from execlens.auth.tokens import TokenVerifier
from execlens.autogpt.background import background_sync
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.executions.endpoints import router as executions_router
from execlens.jobs.endpoints import router as jobs_router
from execlens.jobs.endpoints import wake_worker
from execlens.jobs.worker import Worker
from execlens.judge.deps import close_judge, judge_for
from execlens.judge.endpoints import router as judge_router
from execlens.judge.providers import import_sdks
from execlens.labels.endpoints import router as labels_router
from execlens.otlp.background import background_otlp
from execlens.otlp.endpoints import router as otlp_router
from execlens.redaction import install_log_redaction
from execlens.rules.background import background_rules
from execlens.rules.endpoints import router as rules_router
from execlens.trends.endpoints import router as trends_router
from execlens.trends.monitor import background_monitor
from execlens.upstream.endpoints import router as upstream_router
from execlens.web.pages import install_dashboard


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    migrate: bool = True,
    worker: bool | None = None,
    background: bool = True,
    server: bool = False,
    before_serving: Callable[[], Awaitable[object]] | None = None,
) -> FastAPI:
    """Return the app; it opens ``database`` (or the configured one) when it starts.

    With ``worker`` (default: the serve_worker setting) it also runs analytics jobs.
    ``background``: it runs the background work that one process of a server does (jobs,
    judging rules, the AutoGPT sync, the monitor); without, it answers requests and
    finishes OTLP traces only. ``server``: a long-running server process.
    ``before_serving`` is awaited once everything has started, before the first request.
    """
    settings = settings or Settings()
    run_worker = background and (settings.serve_worker if worker is None else worker)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        db = database or Database.from_settings(settings)
        if migrate:
            await upgrade(db)
        app.state.database = db
        async with AsyncExitStack() as stack:
            if run_worker:
                await stack.enter_async_context(_background_worker(app, db, settings))
            if background:
                await stack.enter_async_context(background_monitor(db, settings))
                await stack.enter_async_context(background_sync(db, settings))
                await stack.enter_async_context(
                    background_rules(db, settings, wake=lambda: wake_worker(app))
                )
            await stack.enter_async_context(background_otlp(db, settings))
            if server:
                # What start-up built (modules, routes, tables) is left out of every
                # collection from now on; each full collection walked it all again, about
                # an eighth of the CPU of serving OTLP spans.
                gc.freeze()
            if before_serving is not None:
                await before_serving()
            try:
                yield
            finally:
                await close_judge(app)
                if owned:
                    await db.dispose()

    app = FastAPI(
        title="execlens",
        version=__version__,
        description="Store AI agent executions, judge them with an LLM, track accuracy.",
        lifespan=lifespan,
        # Served by execlens.web.docs from local files under the pages' CSP. ReDoc is off:
        # it injects inline styles, which that CSP forbids.
        docs_url=None,
        redoc_url=None,
        # PostgreSQL refuses NUL in any text, even a lookup: refuse it once, on every route.
        dependencies=[NoNulInUrl],
    )
    app.state.settings = settings
    app.state.database = database
    app.state.token_verifier = TokenVerifier.from_settings(settings)
    install_log_redaction(settings, extra=[app.state.token_verifier.secret])
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Added after BodySizeLimit, so it runs before it: anonymous callers learn 401 before
    # any size check.
    app.add_middleware(AuthenticateFirst)
    # Outermost, so the gate's own answers carry the headers too.
    app.add_middleware(SecurityHeaders)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Report that the server is up."""
        return {"status": "ok"}

    app.include_router(upstream_router)
    app.include_router(jobs_router)
    app.include_router(trends_router)
    # Audit is a leaf under auth, so the admin check is attached here, not in its module.
    app.include_router(audit_router, dependencies=[Depends(require_admin)], responses=AUTH_ERRORS)
    app.include_router(rules_router)
    app.include_router(executions_router)
    app.include_router(labels_router)
    app.include_router(judge_router)
    app.include_router(otlp_router)
    install_dashboard(app)
    return app


@asynccontextmanager
async def _background_worker(
    app: FastAPI, database: Database, settings: Settings
) -> AsyncIterator[None]:
    """Run the in-process analytics worker for the app's lifetime."""
    # Before the server answers: the worker would load them first thing, on the event
    # loop, and hold every request (and the other processes' start) for a second or two.
    import_sdks()
    worker = Worker(database, settings, judge_for(app))
    app.state.worker = worker
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task
        app.state.worker = None
