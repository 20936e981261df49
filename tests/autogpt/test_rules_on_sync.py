"""Runs synced from AutoGPT count as arrivals for judging rules, once each."""

from sqlalchemy import select

from execlens.autogpt.service import AutoGPTSync
from execlens.db.engine import Database
from execlens.jobs.models import AnalyticsJob, JobItem
from execlens.rules.schemas import RuleCreate
from execlens.rules.service import rule_service
from tests.autogpt.autogpt_db import AutoGPTDatabase
from tests.judge.conftest import fake_llm  # noqa: F401  (fixture)
from tests.rules.conftest import jobs_settings, judge_settings  # noqa: F401  (fixtures)


async def test_a_rule_picks_synced_runs_once_even_when_they_change(
    autogpt: AutoGPTDatabase,
    syncer: AutoGPTSync,
    database: Database,
    jobs_settings,  # noqa: F811
):
    async with database.write() as session:
        await rule_service.create(session, jobs_settings, RuleCreate(), actor="test")
    graph = await autogpt.graph()
    await autogpt.run(graph, "run-1")
    await autogpt.run(graph, "run-2", status="RUNNING")
    await syncer.sync_once()
    first = await rule_service.run_all(database, jobs_settings)

    await autogpt.finish("run-2")
    await autogpt.finish("run-1", stats={"cost": 5})  # changed after it was synced
    await syncer.sync_once()
    second = await rule_service.run_all(database, jobs_settings)

    async with database.read() as session:
        stmt = select(JobItem.execution_id).join(AnalyticsJob).order_by(JobItem.execution_id)
        picked = list((await session.scalars(stmt)).all())
    assert (first, second) == (1, 1)
    assert picked == ["run-1", "run-2"]
