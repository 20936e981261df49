"""A job's results as they leave execlens: event streams, CSV and upstream's report."""

import asyncio
import csv
import io
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession

from execlens.db.engine import Database
from execlens.jobs import repository
from execlens.jobs.mappers import analytics_result, job_out, job_result
from execlens.jobs.models import ACTIVE_STATUSES
from execlens.jobs.schemas import (
    ExecutionAnalyticsResponse,
    ExecutionAnalyticsResult,
)
from execlens.jobs.service import job_service

EVENT_BATCH = 200
REPORT_PAGE = 500
CSV_COLUMNS = (
    "exec_id",
    "agent_id",
    "version_id",
    "user_id",
    "status",
    "score",
    "summary_text",
    "error_message",
    "judge",
    "cost_usd",
    "started_at",
    "ended_at",
    "judged_at",
)


def _cell(value: object) -> object:
    """Keep spreadsheet apps from running text that starts like a formula."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


async def report(session: AsyncSession, job_id: str) -> ExecutionAnalyticsResponse:
    """Return a finished job as AutoGPT's analytics report."""
    job = await job_service.get(session, job_id)
    results: list[ExecutionAnalyticsResult] = []
    after = 0
    while True:
        rows = await repository.report_page(session, job_id, after_id=after, limit=REPORT_PAGE)
        # Straight into upstream's shape: no JobResult to dump and validate again. A row
        # holds the item's fields and the run's under the names each side reads.
        results += [analytics_result(row, row) for row in rows]
        if len(rows) < REPORT_PAGE:
            break
        after = rows[-1].item_id
    return ExecutionAnalyticsResponse(
        total_executions=job.succeeded + job.failed + job.skipped,
        processed_executions=job.succeeded + job.failed,
        successful_analytics=job.succeeded,
        failed_analytics=job.failed,
        skipped_executions=job.skipped,
        results=results,
    )


async def events(
    database: Database, job_id: str, *, after: int = 0, poll: float = 0.5
) -> AsyncIterator[tuple[str, str | None, str]]:
    """Yield (event, id, data) for a job: progress snapshots and each finished item.

    Items carry their finish position as the event id, so a client that reconnects
    with Last-Event-ID misses nothing. The stream ends once the job stops.
    """
    previous = None
    while True:
        async with database.read() as session:
            job = await job_service.get(session, job_id)
            rows = await repository.finished_after(session, job_id, after, EVENT_BATCH)
        for item, execution in rows:
            after = item.done_order or after
            yield "item", str(after), job_result(item, execution).model_dump_json()
        progress = job_out(job).model_dump_json()
        if progress != previous:
            yield "progress", None, progress
            previous = progress
        if len(rows) == EVENT_BATCH:
            continue
        if job.status not in ACTIVE_STATUSES:
            yield "end", None, progress
            return
        await asyncio.sleep(poll)


async def csv_rows(
    database: Database, job_id: str, *, status: str | None = None, page: int = 500
) -> AsyncIterator[str]:
    """Yield a job's results as CSV, one page at a time.

    Each page is read in its own short session, closed before the page is yielded: a
    client that reads slowly holds no database connection while it reads.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    after: int | None = None
    while True:
        async with database.read() as session:
            batch = await job_service.results(
                session, job_id, after=after, limit=page, status=status
            )
        for result in batch:
            row = result.model_dump(mode="json", include=set(CSV_COLUMNS))
            writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(batch) < page:
            return
        after = batch[-1].item_id
