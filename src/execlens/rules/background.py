"""Run the judging rules inside `serve` and `worker`, every few seconds."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

from sqlalchemy.exc import SQLAlchemyError

from execlens.config import Settings
from execlens.db.engine import Database
from execlens.errors import UserError
from execlens.rules.service import rule_service

logger = logging.getLogger(__name__)


async def follow_rules(
    database: Database, settings: Settings, wake: Callable[[], None] | None = None
) -> None:
    """Hand new matching runs to the rules' jobs every interval, until cancelled; never raise."""
    while True:
        try:
            picked = await rule_service.run_all(database, settings, wake)
            if picked:
                logger.info("judging rules picked %d new runs", picked)
        except (UserError, SQLAlchemyError, OSError) as exc:
            # One line, no traceback: the next pass retries.
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            logger.warning("judging rules pass failed, retrying: %s", reason)
        await asyncio.sleep(settings.rules_interval_seconds)


@asynccontextmanager
async def background_rules(
    database: Database, settings: Settings, wake: Callable[[], None] | None = None
) -> AsyncIterator[None]:
    """Run the judging rules while the block runs."""
    task = asyncio.create_task(follow_rules(database, settings, wake))
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
