"""A wide job's database work per judged run: claims and commits come in batches."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from execlens.db.engine import Database
from execlens.jobs.driver import JobDriver
from execlens.jobs.models import JobStatus
from execlens.jobs.schemas import JobCreate
from execlens.jobs.worker import Worker
from tests.jobs.conftest import Reply, answer, create_job, job_row, run, store

RUNS = 200


@contextmanager
def statements_on(
    database: Database, keep: Callable[[], bool] = lambda: True
) -> Iterator[list[str]]:
    """Collect every SQL statement sent to the database while the block runs (and ``keep``)."""
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if keep():
            sent.append(statement)

    engines = {id(e): e.sync_engine for e in (database.reader, database.writer)}.values()
    for engine in engines:
        event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", note)


# 25: AutoGPT's POST route judges in batches of 25 calls at a time.
@pytest.mark.parametrize("concurrency", [32, 25])
async def test_a_wide_job_claims_and_records_its_runs_in_batches(
    database, jobs_settings, fake_llm, judge, concurrency
):
    await store(database, [run(n) for n in range(1, RUNS + 1)])
    fake_llm.default = Reply(answer().content, delay=0.2)
    settings = jobs_settings.model_copy(update={"job_poll_seconds": 0.5})
    job_id = await create_job(database, settings, concurrency=concurrency)

    with statements_on(database) as sent:
        status = await Worker(database, settings, judge, kind="cli").run_job(job_id)

    job = await job_row(database, job_id)
    assert status == JobStatus.COMPLETED, job.reason
    assert (job.succeeded, job.failed, job.skipped) == (RUNS, 0, 0)
    # A claim per finished call and a commit per outcome cost 2.5 to 5 statements a run
    # here (more CPU than the call itself); in batches, about two, counting the first
    # wave's claims (a few calls until the provider's first answer) and the pacing's.
    assert len(sent) / RUNS < 2.25, f"{len(sent)} statements for {RUNS} runs"


async def test_a_jobs_first_call_waits_for_few_statements_after_its_creation(
    database, jobs_settings, fake_llm, judge
):
    await store(database, [run(n) for n in range(1, 41)])
    fake_llm.default = Reply(answer().content, delay=0.5)
    # No claim merely because a poll came round before the first call went out.
    settings = jobs_settings.model_copy(update={"job_poll_seconds": 5.0})
    driver = JobDriver(database, settings, judge, kind="cli")
    submitted = await driver.submit(JobCreate(graph_id="g-blog", concurrency=4), created_by="t")

    # Everything between the job's commit and its first provider call: the worker's
    # registration, the first claim (which selects the first runs) and reading them.
    with statements_on(database, keep=lambda: not fake_llm.received) as sent:
        job = await driver.wait(submitted, actor="t")

    assert (job.status, job.succeeded) == (JobStatus.COMPLETED, 40), job.reason
    statements = [s for s in sent if not s.startswith("BEGIN")]
    # A read of the job beside the claim, the worker's registration as a SELECT then an
    # INSERT, and the job's row flushed before each of the claim's queries made 22.
    assert len(statements) <= 20, f"{len(statements)}: " + " / ".join(s[:40] for s in statements)


async def test_a_wide_jobs_claims_leave_its_row_alone(database, jobs_settings, fake_llm, judge):
    await store(database, [run(n) for n in range(1, RUNS + 1)])
    fake_llm.default = Reply(answer().content, delay=0.2)
    settings = jobs_settings.model_copy(update={"job_poll_seconds": 0.5})
    job_id = await create_job(database, settings, concurrency=32)

    with statements_on(database) as sent:
        status = await Worker(database, settings, judge, kind="cli").run_job(job_id)

    assert status == JobStatus.COMPLETED
    # A claim that only leased items wrote the job's updated_at, alone, every time.
    touched = [s for s in sent if s.startswith("UPDATE analytics_jobs SET updated_at=")]
    assert [s for s in touched if s.split(" WHERE ")[0].count("=") == 1] == []
