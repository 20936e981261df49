"""`execlens demo-data` and `execlens demo`: the demo dataset and the quick-start job."""

import json
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import typer
from rich.table import Table

from execlens.audit.service import cli_actor
from execlens.cli_support import console, err_console, fail, load_settings, run_with_database
from execlens.config import Settings
from execlens.db.base import AnyRow
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.errors import UserError
from execlens.executions.importer import ImportReport, import_lines
from execlens.executions.repository import graph_overview
from execlens.jobs.driver import JobDriver, sigint_interrupts
from execlens.jobs.schemas import JobCreate, JobOut, JobResult
from execlens.jobs.service import job_service
from execlens.judge.deps import open_judge
from execlens.judge.providers import resolve_model
from execlens.labels.demo import print_demo_agreement, print_embedded_model_note, store_demo_labels
from execlens.trends.cli import print_agent_trends


def _parse_end(end: str | None) -> date | None:
    if end is None:
        return None
    try:
        return date.fromisoformat(end)
    except ValueError:
        raise fail(f"--end {end!r} is not a date; use YYYY-MM-DD") from None


def demo_data_command(
    days: int = typer.Option(45, min=1, max=365, help="How many days of history."),
    seed: int = typer.Option(7, help="Same seed, same dataset."),
    end: str | None = typer.Option(None, help="Last day (YYYY-MM-DD, UTC); default today."),
    out: Path | None = typer.Option(None, "--out", help="Write here instead of stdout."),
    labels: Path | None = typer.Option(
        None, "--labels", help="Also write the runs' intended labels here, for `labels import`."
    ),
) -> None:
    """Write a realistic, deterministic demo dataset as JSONL."""
    # Imported here: the generator's content tables add about 50 ms to every command's
    # start-up.
    from execlens.demo.generator import generate_records, write_jsonl

    intended: dict[str, float] = {}
    records = generate_records(days=days, seed=seed, end=_parse_end(end), labels=intended)
    if out is None:
        write_jsonl(records, sys.stdout)
    else:
        with out.open("w", encoding="utf-8") as handle:
            lines = write_jsonl(records, handle)
        err_console.print(f"wrote {lines:,} lines to {out}")
    if labels is not None:
        rows = ({"execution_id": key, "score": score} for key, score in intended.items())
        with labels.open("w", encoding="utf-8") as handle:
            count = write_jsonl(rows, handle)
        err_console.print(f"wrote {count:,} labels to {labels}")


def demo_command(
    days: int = typer.Option(45, min=1, max=365, help="How many days of demo history."),
    seed: int = typer.Option(7, help="Same seed, same dataset."),
    judge_per_agent: int = typer.Option(
        2, "--judge-per-agent", min=0, max=100, help="Unscored runs to judge per agent."
    ),
    model: str | None = typer.Option(None, "--model", help="Judge model; default: recommended."),
) -> None:
    """Load the demo dataset, judge a sample of its unscored runs, and print the results."""
    from execlens.demo.generator import generate_records  # about 50 ms: see above

    settings = load_settings()
    if judge_per_agent:
        # Before loading anything: a model no provider serves ends in one line.
        try:
            resolve_model(settings, model)
        except UserError as exc:
            raise fail(str(exc)) from None

    intended: dict[str, float] = {}

    async def work(database: Database) -> tuple[ImportReport, Sequence[AnyRow]]:
        await upgrade(database)
        records = generate_records(days=days, seed=seed, labels=intended)
        report = await import_lines(database, (json.dumps(r) for r in records))
        await store_demo_labels(database, intended)
        async with database.read() as session:
            overview = await graph_overview(session)
        return report, overview

    with err_console.status("loading the demo dataset"):
        report, overview = run_with_database(work, settings)
    console.print(
        f"loaded {report.graphs} graphs, {report.executions:,} executions and "
        f"{report.node_executions:,} node executions into {settings.database_label}"
    )
    table = Table("agent", "executions", "completed", "failed", "scored", "mean score")
    for row in overview:
        table.add_row(
            row.name,
            f"{row.executions:,}",
            f"{row.completed:,}",
            f"{row.failed:,}",
            f"{row.scored:,}",
            "-" if row.mean_score is None else f"{row.mean_score:.2f}",
        )
    console.print(table)
    if judge_per_agent:
        names = {row.graph_id: row.name for row in overview}
        _judge_sample(settings, names, per_agent=judge_per_agent, model=model)
        print_embedded_model_note(settings, model)
    print_agent_trends(settings)
    print_demo_agreement(settings, labelled=len(intended))


def _judge_sample(
    settings: Settings, names: dict[str, str], *, per_agent: int, model: str | None
) -> None:
    """Judge the newest unscored runs of each agent as analytics jobs; print the verdicts."""

    entry = resolve_model(settings, model)
    # The embedded model's throughput is its CPU: a second call in flight only slows the
    # first (two slots also keep two prompt caches), so it judges one run at a time.
    concurrency = 1 if entry.provider == "local" else 4

    unfinished: list[tuple[str, JobOut]] = []

    async def work(database: Database) -> list[tuple[str, JobResult]]:
        rows: list[tuple[str, JobResult]] = []
        async with open_judge(settings) as judge:
            driver = JobDriver(database, settings, judge, kind="cli")
            for number, (graph_id, name) in enumerate(names.items(), start=1):
                status.update(f"judging {name} ({number}/{len(names)}) with {entry.id}")
                params = JobCreate(
                    graph_id=graph_id, model_name=entry.id, limit=per_agent, concurrency=concurrency
                )
                submitted = await driver.submit(params, created_by=cli_actor(), resume_same=True)
                async with sigint_interrupts() as interrupted:
                    job = await driver.wait(submitted, actor=cli_actor(), interrupted=interrupted)
                if job.status != "completed":
                    unfinished.append((name, job))
                async with database.read() as session:
                    for outcome in ("success", "failed"):
                        results = await job_service.results(
                            session, job.id, after=None, limit=per_agent, status=outcome
                        )
                        rows += [(name, result) for result in results]
        return rows

    started = time.perf_counter()
    with err_console.status("judging") as status:
        results = run_with_database(work, settings)
    elapsed = time.perf_counter() - started
    table = Table("agent", "run", "judge", "score", "summary", title="verdicts")
    for name, result in results:
        if result.status == "failed":
            table.add_row(name, result.exec_id[:8], "failed", "-", result.error_message)
        else:
            score = f"{result.score:.2f}"
            table.add_row(name, result.exec_id[:8], result.judge, score, result.summary_text)
    console.print(table)
    by_rule = sum(1 for _, r in results if r.judge == "rules")
    by_model = sum(1 for _, r in results if r.judge == "llm")
    console.print(
        f"judged {len(results)} runs in {elapsed:.0f} s as analytics jobs ({by_model} by "
        f"{entry.provider}:{entry.id}, {by_rule} by rule)"
    )
    # Runs a job could not judge must not vanish from the demo's story.
    for name, job in unfinished:
        console.print(
            f"{name}: job {job.id} {job.status} after {job.done} of {job.total} runs: "
            f"{job.reason}; `execlens analyze --graph-id {job.graph_id} --limit "
            f"{per_agent} --model {job.model}` resumes it",
            soft_wrap=True,  # a wrapped command could not be copied whole
        )
