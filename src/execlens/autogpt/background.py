"""Keep AutoGPT's runs synced inside `serve` and `worker`, one process at a time."""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from execlens.autogpt.service import AutoGPTSync, LeaseLost
from execlens.autogpt.source import parse_source_url
from execlens.autogpt.write_back import AutoGPTWriteBack
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.errors import UserError

logger = logging.getLogger(__name__)
MIN_LEASE = timedelta(minutes=1)


def lease_for(interval: timedelta) -> timedelta:
    """Return how long a lease lasts: several passes, so one slow pass does not lose it."""
    return max(MIN_LEASE, 3 * interval)


async def follow_leased(
    sync: AutoGPTSync, interval: timedelta, writer: AutoGPTWriteBack | None = None
) -> None:
    """Sync (and write back) every ``interval`` while this process holds the lease; never raise."""
    checked = False
    while True:
        try:
            if await sync.claim():
                if not checked:
                    await sync.check()
                    if writer is not None:
                        await writer.check()
                    checked = True
                await _pass(sync, writer)
        except LeaseLost:
            logger.info("AutoGPT sync: another process syncs now")
        except (UserError, SQLAlchemyError, OSError) as exc:
            # One line, no traceback: the next pass retries, and the message says what to fix.
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            logger.warning("AutoGPT sync failed, retrying in %s: %s", interval, reason)
        await asyncio.sleep(interval.total_seconds())


async def _pass(sync: AutoGPTSync, writer: AutoGPTWriteBack | None) -> None:
    report = await sync.sync_once()
    if report.runs or report.removed:
        logger.info("AutoGPT sync: %d runs, %d removed", report.runs, report.removed)
    for run_id, why in report.invalid:
        logger.warning("AutoGPT sync left out run %s: %s", run_id, why)
    # Under the same lease: one process writes back, as one syncs.
    if writer is not None:
        written = await writer.write_once()
        if written.written or written.kept_theirs:
            logger.info(
                "AutoGPT write-back: %d verdicts written, AutoGPT's own kept on %d runs",
                written.written,
                written.kept_theirs,
            )


@asynccontextmanager
async def background_sync(database: Database, settings: Settings) -> AsyncIterator[None]:
    """Follow AutoGPT's database while the block runs, if EXECLENS_AUTOGPT_DATABASE_URL is set."""
    if settings.autogpt_database_url is None:
        yield
        return
    interval = settings.autogpt_sync_interval
    source = parse_source_url(settings.autogpt_database_url.get_secret_value())
    sync = AutoGPTSync(
        source,
        database,
        lookback=settings.autogpt_sync_lookback,
        lease_owner=uuid.uuid4().hex,
        lease=lease_for(interval),
    )
    writer = None
    if settings.autogpt_write_back:
        overwrite = settings.autogpt_write_back_overwrite
        writer = AutoGPTWriteBack(source, database, overwrite=overwrite)
    task = asyncio.create_task(follow_leased(sync, interval, writer))
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        with suppress(SQLAlchemyError, OSError):
            await sync.release()
        await sync.close()
        if writer is not None:
            await writer.close()
