"""Build the FastAPI application."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from execlens import __version__
from execlens.api.errors import install_error_handlers
from execlens.api.limits import BodySizeLimit, RateLimiter
from execlens.auth.tokens import TokenVerifier
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.executions.endpoints import router as executions_router
from execlens.judge.endpoints import router as judge_router
from execlens.redaction import install_log_redaction


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    migrate: bool = True,
) -> FastAPI:
    """Return the app; it opens ``database`` (or the configured one) when it starts."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        db = database or Database.from_settings(settings)
        if migrate:
            await upgrade(db)
        app.state.database = db
        try:
            yield
        finally:
            if owned:
                await db.dispose()

    app = FastAPI(
        title="execlens",
        version=__version__,
        description="Store AI agent executions, judge them with an LLM, track accuracy.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.token_verifier = TokenVerifier.from_settings(settings)
    install_log_redaction(settings, extra=[app.state.token_verifier.secret])
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Report that the server is up."""
        return {"status": "ok"}

    app.include_router(judge_router)
    app.include_router(executions_router)
    return app
