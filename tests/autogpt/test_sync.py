"""`execlens sync autogpt`: what a pass stores, and that passes are incremental and idempotent."""

import asyncio
import contextlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from execlens.autogpt import repository as sync_repository
from execlens.autogpt.service import AutoGPTSync
from execlens.db.engine import Database
from execlens.errors import NotFoundError
from execlens.executions.models import Execution, Graph, NodeExecution
from execlens.executions.schemas import MAX_NODE_EXECUTIONS
from execlens.executions.service import execution_service
from tests.autogpt.autogpt_db import LLM_BLOCK, AutoGPTDatabase, Step, now
from tests.autogpt.autogpt_db import Graph as SourceGraph


def _llm(graph) -> str:
    return next(n for n, b in graph.nodes.items() if b == LLM_BLOCK)


def _steps(graph, answer: str = "Urgent: 2 emails") -> list[Step]:
    node_in, node_llm, node_out = graph.nodes
    return [
        Step(
            node_in,
            inputs={"name": "inbox", "value": "3 new emails"},
            outputs=[("result", "3 new emails")],
        ),
        Step(
            node_llm,
            inputs={"prompt": "3 new emails"},
            outputs=[("response", "draft"), ("response", answer), ("error", None)],
        ),
        Step(node_out, inputs={"name": "summary", "value": answer}, outputs=[("output", answer)]),
    ]


async def _dump(database: Database) -> dict[str, list]:
    """Return every stored graph, execution and node execution as plain tuples."""
    dump = {}
    async with database.read() as session:
        for model in (Graph, Execution, NodeExecution):
            rows = (
                await session.execute(
                    select(model.__table__).order_by(*model.__table__.primary_key)
                )
            ).all()
            dump[model.__tablename__] = [tuple(row) for row in rows]
    return dump


async def _ids(database: Database) -> set[str]:
    async with database.read() as session:
        return set((await session.scalars(select(Execution.id))).all())


async def test_a_pass_stores_finished_runs_with_their_steps_and_graph(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    graph = await autogpt.graph()
    stats = {
        "cost": 12,
        "walltime": 4.5,
        "cputime": 0.75,
        "nodes_walltime": 1.5,
        "node_count": 3,
        "node_error_count": 0,
        "error": None,
        "activity_status": "Sorted the inbox",
        "correctness_score": 0.8,
        "is_dry_run": False,
    }
    await autogpt.run(graph, "run-ok", stats=stats, steps=_steps(graph))
    await autogpt.run(
        graph,
        "run-failed",
        status="FAILED",
        stats={"error": "LLM refused", "node_error_count": 1, "cost": -5},
        steps=[Step(_llm(graph), inputs={"prompt": "x"}, status="FAILED", error="LLM refused")],
    )
    await autogpt.run(graph, "run-stopped", status="TERMINATED")
    await autogpt.run(graph, "run-running", status="RUNNING", steps=_steps(graph)[:1])
    await autogpt.run(graph, "run-queued", status="QUEUED")

    report = await syncer.sync_once()

    assert (report.runs, report.node_executions, report.graphs) == (3, 4, 1)
    assert await _ids(database) == {"run-ok", "run-failed", "run-stopped"}
    async with database.read() as session:
        run = await execution_service.get(session, "run-ok")
        failed = await execution_service.get(session, "run-failed")
        stored_graph = await execution_service.get_graph(session, "graph-1", 1)
    assert (run.status, run.user_id, run.graph_id, run.graph_version) == (
        "COMPLETED",
        "user-1",
        "graph-1",
        1,
    )
    assert run.ended_at - run.created_at == timedelta(seconds=5)
    assert run.stats.model_dump() == {
        "cost": 12,
        "walltime": 4.5,
        "cputime": 0.75,
        "node_count": 3,
        "node_error_count": 0,
        "error": None,
        "activity_status": "Sorted the inbox",
        "correctness_score": 0.8,
    }
    first, llm, last = run.node_executions
    assert first.block_name == "AgentInputBlock"
    assert first.input == {"name": "inbox", "value": "3 new emails"}
    # Several outputs of one pin, in the order they were yielded; None stays None.
    assert llm.output == {"response": ["draft", "Urgent: 2 emails"], "error": [None]}
    assert last.block_name == "AgentOutputBlock"
    assert last.output == {"output": ["Urgent: 2 emails"]}
    assert llm.ended_at - llm.started_at == timedelta(milliseconds=400)
    # A cost that cannot be (negative) is left out; the other keys stay.
    assert failed.stats.cost is None and failed.stats.error == "LLM refused"
    assert failed.node_executions[0].error == "LLM refused"
    assert failed.node_executions[0].status == "FAILED"
    assert [n.block_name for n in stored_graph.nodes] == [
        "AgentInputBlock",
        "AITextGeneratorBlock",
        "AgentOutputBlock",
    ]
    assert {(link.source_name, link.sink_name) for link in stored_graph.links} == {
        ("result", "prompt"),
        ("response", "value"),
    }
    assert stored_graph.name == "Email triager"


async def test_inputs_come_from_input_rows_when_the_node_kept_no_execution_data(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    graph = await autogpt.graph()
    step = Step(_llm(graph), inputs={"prompt": "hello"}, outputs=[("response", "hi")])
    step.execution_data = False
    await autogpt.run(graph, "run-1", steps=[step])

    await syncer.sync_once()

    async with database.read() as session:
        run = await execution_service.get(session, "run-1")
    assert run.node_executions[0].input == {"prompt": "hello"}


async def test_a_node_with_moderated_values_is_stored_with_them_not_the_originals(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    graph = await autogpt.graph()
    cleared = {"cleared_inputs": {"prompt": ["[removed]"]}, "cleared_outputs": {"x": [1.5]}}
    moderated = Step(
        _llm(graph), inputs={"prompt": "secret"}, outputs=[("response", "hi")], stats=cleared
    )
    # Empty moderation lists mean nothing was cleared: the node's own values stay.
    empty = {"cleared_inputs": {}, "cleared_outputs": []}
    plain = Step(_llm(graph), inputs={"prompt": "hello"}, outputs=[("response", "hi")], stats=empty)
    await autogpt.run(graph, "run-1", steps=[moderated, plain])

    await syncer.sync_once()

    async with database.read() as session:
        first, second = (await execution_service.get(session, "run-1")).node_executions
    assert (first.input, first.output) == ({"prompt": ["[removed]"]}, {"x": [1.5]})
    assert (second.input, second.output) == ({"prompt": "hello"}, {"response": ["hi"]})


async def test_outputs_keep_every_value_of_every_pin_in_order_whatever_the_names_and_values(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    graph = await autogpt.graph()
    values = [{"nested": [1, 2.5, None]}, 'naïve "quoted" \\ text\n', 0, False, [], None]
    outputs = [("a", values[0]), ('pin "b"\\', values[1]), ("a", values[2]), ("é ✓", values[3])]
    outputs += [("a", values[4]), ('pin "b"\\', values[5])]
    await autogpt.run(graph, "run-1", steps=[Step(_llm(graph), outputs=outputs)])

    await syncer.sync_once()

    async with database.read() as session:
        node = (await execution_service.get(session, "run-1")).node_executions[0]
    assert node.output == {
        "a": [{"nested": [1, 2.5, None]}, 0, []],
        'pin "b"\\': ['naïve "quoted" \\ text\n', None],
        "é ✓": [False],
    }


async def test_a_node_error_that_is_not_text_is_kept_as_text(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    graph = await autogpt.graph()
    step = Step(_llm(graph), status="FAILED", stats={"error": {"code": 7}})
    await autogpt.run(graph, "run-1", status="FAILED", steps=[step])

    await syncer.sync_once()

    async with database.read() as session:
        node = (await execution_service.get(session, "run-1")).node_executions[0]
    assert (node.status, node.error) == ("FAILED", "{'code': 7}")


async def test_deleted_and_dry_runs_are_not_synced(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    graph = await autogpt.graph()
    await autogpt.run(graph, "run-kept")
    await autogpt.run(graph, "run-dry", stats={"is_dry_run": True})
    await autogpt.run(graph, "run-deleted")
    await autogpt.soft_delete("run-deleted")

    report = await syncer.sync_once()

    assert await _ids(database) == {"run-kept"}
    assert (report.runs, report.skipped) == (1, 2)


async def test_a_second_pass_over_unchanged_runs_changes_nothing(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    graph = await autogpt.graph()
    for n in range(20):
        await autogpt.run(graph, f"run-{n:02d}", steps=_steps(graph, f"answer {n}"))
    await syncer.sync_once()
    before = await _dump(database)

    again = await syncer.sync_once()

    assert again.read == 20  # all inside the lookback window, so read again ...
    assert (again.runs, again.unchanged) == (0, 20)  # ... seen unchanged, not written
    assert await _dump(database) == before
    assert len(before["executions"]) == 20 and len(before["node_executions"]) == 60


_REFUSE = {
    "postgresql": [
        "CREATE FUNCTION refuse_run() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.id = 'bulk-000010' THEN RAISE EXCEPTION 'refused by the test'; END IF; "
        "RETURN NEW; END $$",
        "CREATE TRIGGER refuse_run BEFORE INSERT ON executions "
        "FOR EACH ROW EXECUTE FUNCTION refuse_run()",
    ],
    "sqlite": [
        "CREATE TRIGGER refuse_run BEFORE INSERT ON executions "
        "WHEN NEW.id = 'bulk-000010' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    ],
}
_ALLOW = {
    "postgresql": ["DROP TRIGGER refuse_run ON executions", "DROP FUNCTION refuse_run()"],
    "sqlite": ["DROP TRIGGER refuse_run"],
}


async def _run_ddl(database: Database, statements: list[str]) -> None:
    async with database.write() as session:
        for statement in statements:
            await session.execute(text(statement))


async def test_a_batch_that_fails_to_write_leaves_it_and_later_ones_to_the_next_pass(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    # Batches of 7: the run refused is in the second. On PostgreSQL the third is written
    # at the same time; it must not commit past the failed one.
    graph = await autogpt.graph()
    await autogpt.many_runs(graph, 30, steps=2)
    dialect = database.dialect
    await _run_ddl(database, _REFUSE[dialect])
    try:
        with pytest.raises(DBAPIError, match="refused by the test"):
            await syncer.sync_once()
        stored = await _ids(database)
        async with database.read() as session:
            cursor = await sync_repository.get_cursor(session, "autogpt")
    finally:
        await _run_ddl(database, _ALLOW[dialect])

    assert stored == {f"bulk-{n:06d}" for n in range(1, 8)}
    # The next pass starts after the last run stored, not after a batch that rolled back.
    last_stored = await autogpt.db.fetchval(
        'SELECT "updatedAt" FROM "AgentGraphExecution" WHERE id = $1', "bulk-000007"
    )
    assert cursor is not None and cursor.replace(tzinfo=None) == last_stored

    report = await syncer.sync_once()

    assert report.runs == 23 and report.unchanged == 7
    assert await _ids(database) == {f"bulk-{n:06d}" for n in range(1, 31)}
    async with database.read() as session:
        nodes = await session.scalar(select(func.count()).select_from(NodeExecution))
    assert nodes == 60


async def test_a_run_that_finishes_after_a_pass_is_synced_by_the_next(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    graph = await autogpt.graph()
    await autogpt.run(graph, "run-early")
    await autogpt.run(graph, "run-late", status="RUNNING", at=now() - timedelta(minutes=50))
    await syncer.sync_once()
    assert await _ids(database) == {"run-early"}

    await autogpt.finish("run-late", "FAILED", stats={"error": "timed out"})
    await syncer.sync_once()

    async with database.read() as session:
        late = await execution_service.get(session, "run-late")
    assert late.status == "FAILED" and late.stats.error == "timed out"


async def test_a_run_changed_after_it_was_synced_is_written_again(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    graph = await autogpt.graph()
    await autogpt.run(graph, "run-1", stats={"cost": 3})
    await autogpt.run(graph, "run-2", stats={"cost": 4})
    await syncer.sync_once()

    # AutoGPT's own analytics writes a summary and a score: a whole-stats replace.
    summary = {"cost": 3, "activity_status": "Sorted 3 emails", "correctness_score": 0.9}
    await autogpt.finish("run-1", "COMPLETED", stats=summary)
    report = await syncer.sync_once()

    assert (report.runs, report.unchanged) == (1, 1)
    async with database.read() as session:
        run = await execution_service.get(session, "run-1")
    assert (run.stats.activity_status, run.stats.correctness_score) == ("Sorted 3 emails", 0.9)


async def test_a_run_changed_inside_the_lookback_is_read_again(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    # A writer that commits late: the run's change time is before the stored cursor.
    graph = await autogpt.graph()
    await autogpt.run(graph, "run-new", at=now() - timedelta(minutes=1))
    await syncer.sync_once()
    await autogpt.run(graph, "run-committed-late", at=now() - timedelta(minutes=20))

    await syncer.sync_once()

    assert await _ids(database) == {"run-new", "run-committed-late"}


async def test_runs_older_than_the_cursor_and_lookback_are_not_read_again(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync
):
    graph = await autogpt.graph()
    for n in range(5):
        await autogpt.run(graph, f"old-{n}", at=now() - timedelta(hours=3))
    await autogpt.run(graph, "recent", at=now() - timedelta(minutes=1))
    assert (await syncer.sync_once()).read == 6

    assert (await syncer.sync_once()).read == 1


async def test_a_run_deleted_after_it_was_synced_disappears(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    graph = await autogpt.graph()
    await autogpt.run(graph, "run-1", steps=_steps(graph))
    await autogpt.run(graph, "run-2")
    await syncer.sync_once()

    await autogpt.soft_delete("run-1")
    report = await syncer.sync_once()

    assert report.removed == 1
    assert await _ids(database) == {"run-2"}
    async with database.read() as session:
        with pytest.raises(NotFoundError):
            await execution_service.get(session, "run-1")
        overview = await execution_service.overview(session)
    assert overview.items[0].executions == 1
    assert (await _dump(database))["node_executions"] == []


async def test_a_huge_run_keeps_its_first_and_last_steps_and_says_so(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    graph = await autogpt.graph()
    steps = MAX_NODE_EXECUTIONS + 50
    await autogpt.huge_run(graph, "run-huge", steps)
    await autogpt.run(graph, "run-small", steps=_steps(graph))

    report = await syncer.sync_once()

    assert report.trimmed_ids == ["run-huge"]
    assert await _ids(database) == {"run-huge", "run-small"}
    async with database.read() as session:
        run = await execution_service.get(session, "run-huge")
    nodes = run.node_executions
    assert len(nodes) == MAX_NODE_EXECUTIONS
    head = (MAX_NODE_EXECUTIONS - 1) // 2
    assert nodes[0].id == "run-huge-n000001"
    assert nodes[head - 1].id == f"run-huge-n{head:06d}"
    assert "20,050" in nodes[head].output["note"][0]
    assert "51 in between were left out" in nodes[head].output["note"][0]
    assert nodes[head + 1].id == f"run-huge-n{head + 52:06d}"
    assert nodes[-1].id == f"run-huge-n{steps:06d}"
    assert nodes[-1].output == {"response": [f"run-huge-n{steps:06d}"]}


async def test_a_run_execlens_cannot_store_is_left_out_and_named_and_the_rest_synced(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    graph = await autogpt.graph()
    long_user = "u" * 250
    await autogpt.user(long_user)
    await autogpt.run(graph, "run-a")
    await autogpt.run(graph, "run-odd", user_id=long_user)
    await autogpt.run(graph, "run-b", stats={"error": {"code": 7}, "cost": 2.5})
    odd_graph = SourceGraph("graph-odd", 1, {"n" * 250: LLM_BLOCK})
    await autogpt.db.execute(
        'INSERT INTO "AgentGraph" (id, version, name, "userId") '
        "VALUES ('graph-odd', 1, 'Odd', 'user-1')"
    )
    await autogpt.db.execute(
        'INSERT INTO "AgentNode" (id, "agentBlockId", "agentGraphId", "agentGraphVersion") '
        "VALUES ($1, $2, 'graph-odd', 1)",
        "n" * 250,
        LLM_BLOCK,
    )
    await autogpt.run(odd_graph, "run-of-odd-graph")

    report = await syncer.sync_once()

    assert await _ids(database) == {"run-a", "run-b", "run-of-odd-graph"}
    assert sorted(report.invalid) == [
        ("graph graph-odd version 1", "nodes[0].id: String should have at most 200 characters"),
        ("run-odd", "user_id: String should have at most 200 characters"),
    ]
    async with database.read() as session:
        run_b = await execution_service.get(session, "run-b")
    # An error that is not text is kept as text; a fractional cent count is left out.
    assert (run_b.stats.error, run_b.stats.cost) == ("{'code': 7}", None)


async def test_a_run_with_a_step_execlens_cannot_store_is_left_out_and_named(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    graph = await autogpt.graph()
    await autogpt.run(graph, "run-a", steps=_steps(graph))
    await autogpt.run(graph, "run-odd", steps=_steps(graph)[:1])
    await autogpt.step("run-odd", "x" * 250, Step(_llm(graph)), now())

    report = await syncer.sync_once()

    assert await _ids(database) == {"run-a"}
    assert report.invalid == [("run-odd", "id: String should have at most 200 characters")]
    assert (report.runs, report.node_executions) == (1, 3)


async def test_follow_reports_a_failing_pass_and_goes_on_when_autogpt_is_back(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database
):
    graph = await autogpt.graph()
    await autogpt.run(graph, "run-1")
    errors, failed = [], asyncio.Event()

    def on_error(exc: Exception) -> None:
        errors.append(exc)
        failed.set()

    # A migration under way: a column the sync reads is briefly missing.
    await autogpt.db.execute('ALTER TABLE "AgentGraphExecution" RENAME "isDeleted" TO "gone"')
    task = asyncio.create_task(syncer.follow(timedelta(seconds=0.1), on_error=on_error))
    try:
        await asyncio.wait_for(failed.wait(), 10)
        assert "isDeleted" in str(errors[0])
        await autogpt.db.execute('ALTER TABLE "AgentGraphExecution" RENAME "gone" TO "isDeleted"')
        for _ in range(100):
            if await _ids(database) == {"run-1"}:
                break
            await asyncio.sleep(0.05)
        assert await _ids(database) == {"run-1"}
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
