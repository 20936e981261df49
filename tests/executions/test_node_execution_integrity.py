"""Every stored node execution belongs to a stored execution, on both databases."""

import asyncio

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from execlens.db.engine import Database
from execlens.executions.models import Execution, NodeExecution
from execlens.executions.schemas import ExecutionIn
from execlens.executions.service import IngestRows, encode_ingest, encode_values, execution_service
from tests.factories import make_execution


def _node(node_id: str, execution_id: str) -> tuple:
    at = "2026-11-01 10:00:00.000000"
    values = (node_id, execution_id, "llm", "Block", "COMPLETED", '{"a": 1}', None, None)
    return (*values, at, at, at)


def _nodes_only(database: Database, *nodes: tuple) -> IngestRows:
    return encode_values(database.dialect, [], [], list(nodes), nodes_as_text=True)


async def _store_runs(database: Database, *run_ids: str) -> None:
    runs = [ExecutionIn.model_validate(make_execution(run_id, nodes=3)) for run_id in run_ids]
    rows = encode_ingest(database.dialect, [], runs)
    async with database.write() as session:
        await execution_service.write(session, database.dialect, rows)


async def _owners(database: Database) -> dict[str, str]:
    """Return each stored node execution's execution id."""
    async with database.read() as session:
        rows = await session.execute(select(NodeExecution.id, NodeExecution.execution_id))
        return dict(rows.all())


async def test_a_node_execution_of_a_run_that_is_not_stored_is_refused(database: Database):
    await _store_runs(database, "run-1")
    before = await _owners(database)

    with pytest.raises(IntegrityError):
        async with database.write() as session:
            rows = _nodes_only(database, _node("run-1-n9", "run-1"), _node("lost-n0", "missing"))
            await execution_service.write(session, database.dialect, rows)

    assert await _owners(database) == before  # the whole write was refused


async def test_a_node_execution_cannot_be_moved_to_a_run_that_is_not_stored(database: Database):
    await _store_runs(database, "run-1")

    with pytest.raises(IntegrityError):
        async with database.write() as session:
            rows = _nodes_only(database, _node("run-1-n0", "missing"))
            await execution_service.write(session, database.dialect, rows)
    with pytest.raises(IntegrityError):
        async with database.write() as session:
            moved = update(NodeExecution).where(NodeExecution.id == "run-1-n1")
            await session.execute(moved.values(execution_id="missing"))

    assert (await _owners(database))["run-1-n0"] == "run-1"
    assert (await _owners(database))["run-1-n1"] == "run-1"


async def test_a_run_with_node_executions_keeps_its_id(database: Database):
    await _store_runs(database, "run-1")

    with pytest.raises(IntegrityError):
        async with database.write() as session:
            await session.execute(update(Execution).where(Execution.id == "run-1").values(id="x"))

    assert set((await _owners(database)).values()) == {"run-1"}


async def test_deleting_runs_deletes_their_node_executions(database: Database):
    await _store_runs(database, "run-1", "run-2", "run-3")

    async with database.write() as session:
        assert await execution_service.remove(session, ["run-1", "run-3"]) == 2
    async with database.write() as session:
        await session.execute(delete(Execution).where(Execution.id == "run-2"))

    assert await _owners(database) == {}
    await _store_runs(database, "run-1")
    assert set((await _owners(database)).values()) == {"run-1"}


async def test_a_run_deleted_while_its_node_executions_are_written_leaves_none_behind(
    database: Database,
):
    await _store_runs(database, "run-1")

    # One transaction adds a node execution to run-1; another deletes run-1 meanwhile. The
    # delete waits for the first to commit, then takes its new node execution with it.
    async with database.write() as session:
        await execution_service.write(
            session, database.dialect, _nodes_only(database, _node("run-1-late", "run-1"))
        )

        async def remove() -> int:
            async with database.write() as other:
                return await execution_service.remove(other, ["run-1"])

        deleting = asyncio.create_task(remove())
        done, _ = await asyncio.wait({deleting}, timeout=1.0)
        assert not done, "the delete did not wait for the transaction writing to run-1"

    assert await asyncio.wait_for(deleting, 30) == 1
    assert await _owners(database) == {}  # none left without their run
