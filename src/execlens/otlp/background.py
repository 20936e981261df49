"""Assemble finished traces, and export verdicts, inside `serve` and `execlens worker`."""

import asyncio
import logging
import multiprocessing
import os
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event

from sqlalchemy.exc import SQLAlchemyError

from execlens.config import Settings
from execlens.db.dialect import storage_problem
from execlens.db.engine import Database
from execlens.otlp.export import score_export
from execlens.otlp.service import otlp_service
from execlens.redaction import install_log_redaction

log = logging.getLogger(__name__)


# How often traces that link no execution are looked for and deleted.
PRUNE_SECONDS = 300.0
# How often an assembly process checks that the server that started it is still there.
PARENT_CHECK_SECONDS = 1.0
# How long a stopping server waits for its assembly processes before killing them.
STOP_SECONDS = 5.0
# How long a starting server waits for its assembly processes to start.
START_SECONDS = 60
PROCESS_NAME = "execlens otlp assembly"


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


def _assemble_in_process(settings: Settings, parent: int, started: Event) -> None:
    """Assemble ready traces until the process that started this one is gone."""
    install_log_redaction(settings)
    # The modules are imported by now, the second or so of CPU a process takes to start.
    started.set()
    asyncio.run(_assemble_while_parent_lives(settings, parent))


async def _assemble_while_parent_lives(settings: Settings, parent: int) -> None:
    database = Database.from_settings(settings)
    task = asyncio.create_task(assemble_forever(database, settings))
    try:
        # A server killed outright cannot stop its processes: they notice by themselves.
        while True:
            await asyncio.sleep(PARENT_CHECK_SECONDS)
            if os.getppid() != parent:
                return
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await database.dispose()


@asynccontextmanager
async def assembly_processes(settings: Settings) -> AsyncIterator[Sequence[BaseProcess]]:
    """Run ``settings.otlp_assembly_processes`` assembling processes while the block runs.

    Enter once they have started: the server answers only when its assembly does.
    """
    # Spawned, not forked: a fork would copy the server's event loop and open connections.
    context = multiprocessing.get_context("spawn")
    started = [context.Event() for _ in range(settings.otlp_assembly_processes)]
    processes = [
        context.Process(
            target=_assemble_in_process,
            args=(settings, os.getpid(), event),
            name=f"{PROCESS_NAME} {number}",
            daemon=True,
        )
        for number, event in enumerate(started, start=1)
    ]
    try:
        for process in processes:
            process.start()
        for event in started:
            if not await asyncio.to_thread(event.wait, START_SECONDS):
                log.warning("an OTLP assembly process did not start in %d s", START_SECONDS)
        yield processes
    finally:
        _stop(processes)


def _stop(processes: Sequence[BaseProcess]) -> None:
    # Killed mid-transaction, a process's work rolls back: the next pass assembles it.
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        if process.pid is not None:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


@asynccontextmanager
async def background_otlp(database: Database, settings: Settings) -> AsyncIterator[None]:
    """Assemble traces (here or in worker processes) and export verdicts while the block runs."""
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(score_export(database, settings))
        if settings.otlp_assembly_processes:
            await stack.enter_async_context(assembly_processes(settings))
            yield
            return
        task = asyncio.create_task(assemble_forever(database, settings))
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
