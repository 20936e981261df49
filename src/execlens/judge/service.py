"""Judge stored executions and keep their verdicts: the logic behind the API and CLI."""

import uuid
from collections.abc import Callable, Sequence

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.db.engine import Database
from execlens.errors import NotFoundError
from execlens.executions.domain import GraphRecord, RunRecord, graph_record, run_record
from execlens.executions.models import Graph
from execlens.executions.repository import get_execution, get_graph_for_execution
from execlens.executions.schemas import GraphOut
from execlens.executions.service import execution_service
from execlens.judge import repository
from execlens.judge.digest import ExecutionDigest, build_digest
from execlens.judge.judge import Judge, JudgeRequest
from execlens.judge.providers import recommended_model
from execlens.judge.schemas import DigestOut, Verdict

# Called with verdicts once the transaction that stored them has committed; it must not
# block (it runs inside the commit) and must not raise.
VerdictListener = Callable[[Sequence[Verdict]], None]


def _graph(graph: Graph | None) -> GraphRecord | None:
    return graph_record(GraphOut.model_validate(graph)) if graph is not None else None


class JudgeService:
    """Load, judge and store."""

    def __init__(self) -> None:
        self._listeners: list[VerdictListener] = []

    def add_listener(self, listener: VerdictListener) -> Callable[[], None]:
        """Call ``listener`` with verdicts after each commit that stored them; return a remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def load(
        self, session: AsyncSession, execution_id: str
    ) -> tuple[RunRecord, GraphRecord | None]:
        """Return an execution's run with its graph, or raise NotFoundError."""
        execution = await execution_service.get(session, execution_id)
        graph = await get_graph_for_execution(session, execution.graph_id, execution.graph_version)
        return run_record(execution), _graph(graph)

    async def load_many(
        self,
        session: AsyncSession,
        ids: Sequence[str],
        graphs: dict[tuple[str, int], GraphRecord | None],
    ) -> dict[str, tuple[RunRecord, GraphRecord | None]]:
        """Return several executions with their graphs, by id; missing ids are absent.

        ``graphs`` caches graphs across calls: a backfill reads each graph once.
        """
        runs = await execution_service.get_runs(session, ids)
        loaded = {}
        for execution_id, run in runs.items():
            key = (run.graph_id, run.graph_version)
            if key not in graphs:
                graph = await get_graph_for_execution(session, *key)
                graphs[key] = _graph(graph)
            loaded[execution_id] = (run, graphs[key])
        return loaded

    async def store(
        self, session: AsyncSession, verdicts: Sequence[Verdict], *, current: bool = True
    ) -> None:
        """Store verdicts, each as its execution's latest unless not ``current`` (a candidate's)."""
        rows = [{"id": str(uuid.uuid4()), **dict(v)} for v in verdicts]
        await repository.add_verdicts(session, rows, current=current)
        # Listeners publish a run's score (OTLP export): a candidate's is not the run's.
        if self._listeners and current:
            listeners, stored = list(self._listeners), list(verdicts)
            event.listen(
                session.sync_session,
                "after_commit",
                lambda _: [listener(stored) for listener in listeners],
                once=True,
            )

    async def judge_and_store(
        self, database: Database, judge: Judge, execution_id: str, request: JudgeRequest
    ) -> Verdict:
        """Judge one stored execution and commit its verdict as soon as it arrives."""
        async with database.read() as session:
            execution, graph = await self.load(session, execution_id)
        # No transaction is held open while the model thinks.
        verdict = await judge.judge(execution, graph, request)
        async with database.write() as session:
            await self.store(session, [verdict])
        return verdict

    async def history(self, session: AsyncSession, execution_id: str) -> Sequence[Verdict]:
        """Return an execution's verdicts, newest first; raise NotFoundError for an unknown one."""
        if await get_execution(session, execution_id) is None:
            raise NotFoundError(f"execution {execution_id!r} does not exist")
        records = await repository.list_verdicts(session, execution_id)
        return [Verdict.model_validate(r, from_attributes=True) for r in records]

    async def digest(
        self, session: AsyncSession, judge: Judge, execution_id: str, model: str | None
    ) -> DigestOut:
        """Return the digest ``model`` (else the default model) would read of one execution."""
        run, graph = await self.load(session, execution_id)
        if model is None and recommended_model(judge.settings) is None:
            # No model to judge with yet: show the digest at the configured budget.
            budget = judge.settings.digest_budget_tokens
            return _digest_out(None, build_digest(run, graph, budget_tokens=budget))
        call = judge.prepare(run, graph, JudgeRequest(model=model))
        return _digest_out(call.model_name, call.digest)


def _digest_out(model: str | None, digest: ExecutionDigest) -> DigestOut:
    return DigestOut(
        model=model,
        budget=digest.budget,
        tokens=digest.tokens,
        cuts=list(digest.cuts),
        evidence_kept=digest.evidence_kept,
        text=digest.text,
    )


judge_service = JudgeService()
