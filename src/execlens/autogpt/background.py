"""Keep AutoGPT's runs synced inside `serve` and `worker`, one process at a time."""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from execlens.autogpt.service import AutoGPTSync, LeaseLost
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.errors import UserError
from execlens.source_url import parse_source_url

logger = logging.getLogger(__name__)
MIN_LEASE = timedelta(minutes=1)


def lease_for(interval: timedelta) -> timedelta:
    """Return how long a lease lasts: several passes, so one slow pass does not lose it."""
    return max(MIN_LEASE, 3 * interval)


async def follow_leased(sync: AutoGPTSync, interval: timedelta) -> None:
    """Sync every ``interval`` while this process holds the lease; never raise."""
    checked = False
    while True:
        try:
            if await sync.claim():
                if not checked:
                    await sync.check()
                    checked = True
                report = await sync.sync_once()
                if report.runs or report.removed:
                    logger.info("AutoGPT sync: %d runs, %d removed", report.runs, report.removed)
                for run_id, why in report.invalid:
                    logger.warning("AutoGPT sync left out run %s: %s", run_id, why)
        except LeaseLost:
            logger.info("AutoGPT sync: another process syncs now")
        except (UserError, SQLAlchemyError, OSError) as exc:
            # One line, no traceback: the next pass retries, and the message says what to fix.
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            logger.warning("AutoGPT sync failed, retrying in %s: %s", interval, reason)
        await asyncio.sleep(interval.total_seconds())


@asynccontextmanager
async def background_sync(database: Database, settings: Settings) -> AsyncIterator[None]:
    """Follow AutoGPT's database while the block runs, if EXECLENS_AUTOGPT_DATABASE_URL is set."""
    if settings.autogpt_database_url is None:
        yield
        return
    interval = settings.autogpt_sync_interval
    sync = AutoGPTSync(
        parse_source_url(settings.autogpt_database_url.get_secret_value()),
        database,
        lookback=settings.autogpt_sync_lookback,
        lease_owner=uuid.uuid4().hex,
        lease=lease_for(interval),
    )
    task = asyncio.create_task(follow_leased(sync, interval))
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        with suppress(SQLAlchemyError, OSError):
            await sync.release()
        await sync.close()
