"""Assemble finished traces, and export verdicts, inside `serve` and `execlens worker`."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from execlens.config import Settings
from execlens.db.dialect import storage_problem
from execlens.db.engine import Database
from execlens.otlp.export import score_export
from execlens.otlp.service import otlp_service

log = logging.getLogger(__name__)


# How often traces that link no execution are looked for and deleted.
PRUNE_SECONDS = 300.0


async def assemble_forever(database: Database, settings: Settings) -> None:
    """Assemble ready traces every poll interval; never raise, log one line per failure."""
    pruned_at = 0.0
    while True:
        try:
            count = await otlp_service.assemble_ready(database, settings, datetime.now(UTC))
            if count:
                log.info("OTLP: assembled %d traces into executions", count)
            if time.monotonic() - pruned_at >= PRUNE_SECONDS:
                pruned_at = time.monotonic()
                await otlp_service.prune(database, settings, datetime.now(UTC))
        except (SQLAlchemyError, OSError) as exc:
            # The next pass retries: nothing of a failed pass was committed.
            reason = storage_problem(exc) or type(exc).__name__
            log.warning("OTLP assembly failed, retrying: %s", reason)
        except Exception:
            # Anything else is a bug; log it and keep assembling the other traces.
            log.exception("OTLP assembly failed unexpectedly, retrying")
        await asyncio.sleep(settings.otlp_assembly_poll_seconds)


@asynccontextmanager
async def background_otlp(database: Database, settings: Settings) -> AsyncIterator[None]:
    """Assemble traces and export verdicts while the block runs."""
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(score_export(database, settings))
        task = asyncio.create_task(assemble_forever(database, settings))
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
