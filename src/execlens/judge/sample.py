"""Judge a sample of unscored executions and print a table: the quick start's last step."""

import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from execlens.cli_support import console, err_console, run_with_database
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.judge import repository
from execlens.judge.schemas import Verdict


def judge_sample(settings: Settings, *, per_agent: int, model: str | None) -> None:
    """Judge up to ``per_agent`` newest unscored finished runs of each agent, one at a time."""
    from execlens.judge.judge import Judge, JudgeFailed, JudgeRequest
    from execlens.judge.providers import resolve_model
    from execlens.judge.service import judge_service

    entry = resolve_model(settings, model)
    progress = Progress(
        TextColumn(f"judging with {entry.provider}:{entry.id}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )

    async def work(database: Database) -> list[tuple[str, str, Verdict | str]]:
        async with database.read() as session:
            names = dict(await repository.graph_names(session))
            sample = await repository.unscored_sample(session, per_agent)
        task = progress.add_task("judge", total=len(sample))
        judge = Judge(settings)
        rows = []
        try:
            for execution in sample:
                name = names.get(execution.graph_id, execution.graph_id)
                try:
                    verdict = await judge_service.judge_and_store(
                        database, judge, execution.id, JudgeRequest(model=entry.id)
                    )
                    rows.append((name, execution.status.value, verdict))
                except JudgeFailed as exc:
                    rows.append((name, execution.status.value, str(exc)))
                progress.advance(task)
        finally:
            await judge.aclose()
        return rows

    started = time.perf_counter()
    with progress:
        rows = run_with_database(work, settings)
    elapsed = time.perf_counter() - started
    _print(rows, elapsed, f"{entry.provider}:{entry.id}")


def _print(rows: list[tuple[str, str, Verdict | str]], elapsed: float, model: str) -> None:
    table = Table("agent", "status", "judge", "score", "summary", title="verdicts")
    for name, status, result in rows:
        if isinstance(result, str):
            table.add_row(name, status, "failed", "-", result)
        else:
            table.add_row(
                name,
                status,
                result.judge,
                f"{result.correctness_score:.2f}",
                result.activity_status,
            )
    console.print(table)
    by_model = sum(1 for *_, r in rows if not isinstance(r, str) and r.judge == "llm")
    console.print(
        f"judged {len(rows)} runs in {elapsed:.0f} s ({by_model} by {model}, "
        f"{sum(1 for *_, r in rows if not isinstance(r, str) and r.judge == 'rules')} by rule)"
    )
