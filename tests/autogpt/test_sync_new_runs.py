"""Runs synced for the first time: stored once and whole, whoever else writes the same ids."""

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select, text

from execlens.autogpt import repository
from execlens.autogpt.models import SyncedRun
from execlens.autogpt.service import AutoGPTSync
from execlens.db.engine import Database
from execlens.executions.models import Execution, NodeExecution
from execlens.executions.schemas import ExecutionIn
from execlens.executions.service import execution_service
from tests.autogpt.autogpt_db import AutoGPTDatabase, Step
from tests.factories import make_execution

EARLIER = datetime(2020, 1, 1, tzinfo=UTC)


def _steps(graph, answer: str) -> list[Step]:
    node_in, node_llm, node_out = graph.nodes
    return [
        Step(node_in, inputs={"name": "inbox", "value": "mail"}, outputs=[("result", "mail")]),
        Step(node_llm, inputs={"prompt": "mail"}, outputs=[("response", answer)]),
        Step(node_out, inputs={"value": answer}, outputs=[("output", answer)]),
    ]


def _ingested(run_id: str, **overrides) -> ExecutionIn:
    """A run as a REST ingest sends it, with node executions of AutoGPT's ids."""
    return ExecutionIn.model_validate(make_execution(run_id, nodes=3, **overrides))


async def _two_runs(autogpt: AutoGPTDatabase) -> None:
    """Finish run-1 and run-2 in AutoGPT, each answering differently."""
    graph = await autogpt.graph()
    await autogpt.run(graph, "run-1", steps=_steps(graph, "from AutoGPT"))
    await autogpt.run(graph, "run-2", steps=_steps(graph, "second"))


async def _ingest(database: Database, run: ExecutionIn) -> None:
    async with database.write() as session:
        await execution_service.ingest(session, database.dialect, executions=[run])


async def _stored(database: Database) -> tuple[dict[str, str], dict[str, tuple]]:
    """Return each run's status, and each node execution's run and output."""
    async with database.read() as session:
        runs = await session.execute(select(Execution.id, Execution.status))
        nodes = await session.execute(
            select(NodeExecution.id, NodeExecution.execution_id, NodeExecution.output_data)
        )
        return dict(runs.all()), {row.id: (row.execution_id, row.output_data) for row in nodes}


async def test_a_run_stored_by_rest_before_its_first_sync_is_updated_not_doubled(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    await _two_runs(autogpt)
    await _ingest(database, _ingested("run-1", status="RUNNING"))

    report = await syncer.sync_once()

    assert (report.runs, report.node_executions) == (2, 6)
    runs, nodes = await _stored(database)
    assert runs == {"run-1": "COMPLETED", "run-2": "COMPLETED"}
    assert len(nodes) == 6
    assert nodes["run-1-n1"] == ("run-1", {"response": ["from AutoGPT"]})
    assert nodes["run-2-n1"] == ("run-2", {"response": ["second"]})


async def test_a_new_run_whose_step_id_another_run_holds_is_synced_with_that_step(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    await _two_runs(autogpt)
    # A run ingested by REST under another id, holding one of run-1's node execution ids.
    other = make_execution("other", nodes=1)
    other["node_executions"][0]["id"] = "run-1-n1"
    await _ingest(database, ExecutionIn.model_validate(other))

    report = await syncer.sync_once()

    assert (report.runs, report.node_executions, report.invalid) == (2, 6, [])
    runs, nodes = await _stored(database)
    assert set(runs) == {"other", "run-1", "run-2"}
    # As any upsert by id does: the step now belongs to the run AutoGPT says it does.
    assert nodes["run-1-n1"] == ("run-1", {"response": ["from AutoGPT"]})
    assert {node for node, (run, _) in nodes.items() if run != "other"} == {
        f"run-{r}-n{i}" for r in (1, 2) for i in range(3)
    }
    # A second pass finds nothing left to write.
    assert (await syncer.sync_once()).runs == 0


async def _wait_for_a_blocked_writer(database: Database) -> None:
    """Return once another session waits for a lock (PostgreSQL), or after a moment (SQLite)."""
    if database.dialect == "sqlite":
        await asyncio.sleep(0.5)  # SQLite's writers queue on its one write lock anyway
        return
    for _ in range(200):
        async with database.read() as session:
            if await session.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the sync never waited for the ingest's transaction")


async def test_a_run_ingested_while_its_first_sync_writes_it_is_stored_once_and_whole(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    await _two_runs(autogpt)

    # A REST ingest of run-1 has written but not committed when the sync reads execlens:
    # the sync takes run-1 for new, then finds it stored when it writes.
    async with database.write() as session:
        extra = {"id": "rest-only", "node_id": "n", "status": "COMPLETED"}
        run = _ingested("run-1", status="RUNNING")
        run = run.model_copy(update={"node_executions": [*run.node_executions, extra]})
        await execution_service.ingest(
            session, database.dialect, executions=[ExecutionIn.model_validate(run.model_dump())]
        )
        syncing = asyncio.create_task(syncer.sync_once())
        await _wait_for_a_blocked_writer(database)
        assert not syncing.done()

    report = await asyncio.wait_for(syncing, 60)

    assert (report.runs, report.node_executions, report.invalid) == (2, 6, [])
    runs, nodes = await _stored(database)
    assert runs == {"run-1": "COMPLETED", "run-2": "COMPLETED"}
    # Both writers' steps are kept; where both wrote one, the sync's (later) version.
    assert nodes["run-1-n1"] == ("run-1", {"response": ["from AutoGPT"]})
    assert nodes["rest-only"][0] == "run-1"
    assert len(nodes) == 7


async def test_a_run_another_pass_stores_meanwhile_keeps_the_change_time_read_last(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    await _two_runs(autogpt)

    # Another pass (a second process, without a lease) has written run-1 with an older
    # change time, but not committed, when this one reads execlens: this one takes run-1
    # for new, then finds it and its change time stored when it writes.
    async with database.write() as session:
        await execution_service.ingest(session, database.dialect, executions=[_ingested("run-1")])
        await repository.save_changes(session, database.dialect, [("run-1", EARLIER)])
        syncing = asyncio.create_task(syncer.sync_once())
        await _wait_for_a_blocked_writer(database)
        assert not syncing.done()

    report = await asyncio.wait_for(syncing, 60)

    assert (report.runs, report.node_executions, report.invalid) == (2, 6, [])
    async with database.read() as session:
        synced = (await session.scalars(select(SyncedRun.execution_id))).all()
    assert sorted(synced) == ["run-1", "run-2"]
    # run-1's change time is AutoGPT's, not the older one: the next pass has nothing to do.
    assert (await syncer.sync_once()).runs == 0
