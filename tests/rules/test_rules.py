"""Judging rules: new finished runs are picked as they arrive, sampled, budgeted, judged once."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx2
from sqlalchemy import func, select, update

from execlens.config import Settings
from execlens.db.engine import Database
from execlens.executions.models import Execution
from execlens.jobs.models import AnalyticsJob, JobItem, JobStatus
from execlens.rules.models import RuleMatch
from execlens.rules.service import is_sampled, rule_service
from tests.jobs.conftest import run, store, verdict_counts

BLOG = "g-blog"


async def _add_rule(api: httpx2.AsyncClient, **body) -> dict:
    response = await api.post("/api/judging-rules", json={"graph_id": BLOG, **body})
    assert response.status_code == 201, response.text
    return response.json()


async def _picked(database: Database, rule_id: str) -> list[str]:
    """Return the runs the rule handed to its jobs."""
    stmt = (
        select(JobItem.execution_id)
        .join(AnalyticsJob, AnalyticsJob.id == JobItem.job_id)
        .where(AnalyticsJob.rule_id == rule_id)
        .order_by(JobItem.execution_id)
    )
    async with database.read() as session:
        return list((await session.scalars(stmt)).all())


async def _until_judged(database: Database, count: int) -> None:
    """Wait until ``count`` runs have a verdict, or 20 s pass."""
    for _ in range(400):
        if len(await verdict_counts(database)) >= count:
            return
        await asyncio.sleep(0.05)


async def test_a_rule_picks_new_finished_runs_once(
    api: httpx2.AsyncClient, database: Database, jobs_settings: Settings
):
    await store(database, [run(900)])
    async with database.write() as session:  # arrived long before the rule existed
        await session.execute(
            update(Execution).values(arrived_at=datetime.now(UTC) - timedelta(days=1))
        )
    rule = await _add_rule(api)
    await store(database, [run(1), run(2), run(3, status="RUNNING"), run(4, graph_id="g-other")])
    response = await api.post("/api/executions", json={"executions": [run(5, status="FAILED")]})
    assert response.status_code in (200, 201), response.text

    first = await rule_service.run_all(database, jobs_settings)
    again = await rule_service.run_all(database, jobs_settings)
    await store(database, [run(1), run(3)])  # re-sent: run-3 has finished since
    later = await rule_service.run_all(database, jobs_settings)

    assert (first, again, later) == (3, 0, 1)
    assert await _picked(database, rule["id"]) == ["run-001", "run-002", "run-003", "run-005"]


async def test_sampling_keeps_about_the_rate_and_always_the_same_runs(
    api: httpx2.AsyncClient, database: Database, jobs_settings: Settings
):
    rule = await _add_rule(api, sample_rate=0.3)
    runs = [run(n) for n in range(600)]
    await store(database, runs)

    picked = await rule_service.run_all(database, jobs_settings)
    await store(database, runs)  # a re-sync sends every run again
    again = await rule_service.run_all(database, jobs_settings)

    chosen = await _picked(database, rule["id"])
    assert 0.25 * 600 <= len(chosen) <= 0.35 * 600
    assert (picked, again) == (len(chosen), 0)
    assert chosen == sorted(r["id"] for r in runs if is_sampled(r["id"], 0.3))
    async with database.read() as session:
        seen = await session.scalar(select(func.count()).select_from(RuleMatch))
    assert seen == 600


async def test_a_run_another_rule_picked_is_left_to_it(
    api: httpx2.AsyncClient, database: Database, jobs_settings: Settings
):
    first = await _add_rule(api, sample_rate=0.3)
    same = await _add_rule(api, sample_rate=0.3, name="the same sample")
    wider = await _add_rule(api, sample_rate=0.6, name="a wider sample")
    runs = [run(n) for n in range(600)]
    await store(database, runs)

    await rule_service.run_all(database, jobs_settings)

    chosen = await _picked(database, first["id"])
    assert chosen == sorted(r["id"] for r in runs if is_sampled(r["id"], 0.3))
    assert await _picked(database, same["id"]) == []
    # The wider rule judges the runs of its sample the first rule did not take.
    wider_only = [r["id"] for r in runs if is_sampled(r["id"], 0.6) and r["id"] not in chosen]
    assert await _picked(database, wider["id"]) == sorted(wider_only)
    async with database.read() as session:
        seen = await session.scalar(select(func.count()).select_from(RuleMatch))
    assert seen == 3 * 600


async def test_two_rules_over_the_same_runs_pay_for_each_run_once(
    api: httpx2.AsyncClient, database: Database, jobs_settings: Settings, worker, fake_llm
):
    await _add_rule(api)
    await _add_rule(api, name="the same rule, added twice")
    await store(database, [run(n) for n in range(8)])
    await rule_service.run_all(database, jobs_settings, worker.wake)

    await _until_judged(database, 8)
    await asyncio.sleep(0.3)  # a second call for the same run would have been sent by now

    assert await verdict_counts(database) == {f"run-{n:03d}": 1 for n in range(8)}
    assert len(fake_llm.received) == 8


async def test_a_rules_runs_are_judged_by_the_worker_and_its_health_shows_it(
    api: httpx2.AsyncClient, database: Database, jobs_settings: Settings, worker, fake_llm
):
    rule = await _add_rule(api)
    await store(database, [run(n) for n in range(5)])
    await rule_service.run_all(database, jobs_settings, worker.wake)

    await _until_judged(database, 5)
    health = (await api.get(f"/api/judging-rules/{rule['id']}")).json()["health"]

    assert await verdict_counts(database) == {f"run-{n:03d}": 1 for n in range(5)}
    assert health["judged_last_hour"] == 5
    assert health["backlog"] == 0
    assert 0 < health["lag_p50_seconds"] <= health["lag_p95_seconds"] < 30
    assert health["spent_today_usd"] > 0


async def test_the_daily_budget_pauses_the_rule_until_the_next_utc_day(
    api: httpx2.AsyncClient, database: Database, jobs_settings: Settings, worker, fake_llm
):
    # About $0.00023 a verdict: the budget pays for two.
    rule = await _add_rule(api, daily_budget_usd=0.0005)
    await store(database, [run(n) for n in range(6)])
    await rule_service.run_all(database, jobs_settings, worker.wake)

    for _ in range(400):
        health = (await api.get(f"/api/judging-rules/{rule['id']}")).json()["health"]
        job = await _job(database, health["open_job_id"])
        if job.status == JobStatus.PAUSED:
            break
        await asyncio.sleep(0.05)
    # Read again once paused: a verdict may have landed between the read and the pause.
    health = (await api.get(f"/api/judging-rules/{rule['id']}")).json()["health"]
    judged_today = len(await verdict_counts(database))
    assert job.status == JobStatus.PAUSED
    assert 1 <= judged_today <= 3
    assert health["spent_today_usd"] <= 0.0005 + 0.00024
    assert health["backlog"] == 6 - judged_today

    # The same day: a pass may resume the job only while the budget still pays for one
    # more verdict (a job can pause with a call's worth left); it pauses again within it.
    await rule_service.run_all(database, jobs_settings, worker.wake)
    for _ in range(400):
        if (await _job(database, job.id)).status == JobStatus.PAUSED:
            break
        await asyncio.sleep(0.05)
    assert (await _job(database, job.id)).status == JobStatus.PAUSED
    health = (await api.get(f"/api/judging-rules/{rule['id']}")).json()["health"]
    assert health["spent_today_usd"] <= 0.0005 + 0.00024
    judged_today = len(await verdict_counts(database))
    assert judged_today <= 3

    async with database.write() as session:  # the verdicts were yesterday's
        yesterday = datetime.now(UTC) - timedelta(days=1)
        await session.execute(update(JobItem).values(judged_at=yesterday))
    await rule_service.run_all(database, jobs_settings, worker.wake)
    for _ in range(400):
        if len(await verdict_counts(database)) > judged_today:
            break
        await asyncio.sleep(0.05)
    assert len(await verdict_counts(database)) > judged_today


async def _job(database: Database, job_id: str) -> AnalyticsJob:
    async with database.read() as session:
        job = await session.get(AnalyticsJob, job_id)
        assert job is not None
        return job


async def test_two_processes_never_pick_a_run_twice(
    api: httpx2.AsyncClient, database: Database, jobs_settings: Settings, settings: Settings
):
    rule = await _add_rule(api)
    # While one process reads the first rule, another reads the second at once.
    same = await _add_rule(api, name="the same rule, added twice")
    other = Database(settings.resolved_database_url, settings=settings)
    try:
        await store(database, [run(n) for n in range(300)])
        counts = await asyncio.gather(
            *(rule_service.run_all(db, jobs_settings) for db in (database, other, database, other))
        )
    finally:
        await other.dispose()

    assert sum(counts) == 300
    picked = await _picked(database, rule["id"]) + await _picked(database, same["id"])
    assert sorted(picked) == [f"run-{n:03d}" for n in range(300)]


async def test_pausing_stops_the_rule_and_its_job_and_unpausing_resumes_both(
    api: httpx2.AsyncClient, database: Database, jobs_settings: Settings
):
    rule = await _add_rule(api)
    await store(database, [run(1)])
    await rule_service.run_all(database, jobs_settings)
    job_id = (await api.get(f"/api/judging-rules/{rule['id']}")).json()["health"]["open_job_id"]

    paused = await api.patch(f"/api/judging-rules/{rule['id']}", json={"paused": True})
    await store(database, [run(2)])
    while_paused = await rule_service.run_all(database, jobs_settings)
    assert paused.status_code == 200 and paused.json()["paused"] is True
    assert (await _job(database, job_id)).status == JobStatus.CANCELLED
    assert while_paused == 0

    resumed = await api.patch(f"/api/judging-rules/{rule['id']}", json={"paused": False})
    after = await rule_service.run_all(database, jobs_settings)
    assert resumed.status_code == 200
    assert (await _job(database, job_id)).status == JobStatus.QUEUED
    assert after == 1
