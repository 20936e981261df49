"""`execlens demo-data` and `execlens demo`: the demo dataset and the quick-start job."""

import json
import sys
from datetime import date
from pathlib import Path

import typer
from rich.table import Table

from execlens.cli_support import console, err_console, fail, load_settings, run_with_database
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.executions.importer import ImportReport, import_lines
from execlens.executions.repository import graph_overview
from execlens.judge.sample import judge_sample


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
) -> None:
    """Write a realistic, deterministic demo dataset as JSONL."""
    from execlens.demo.generator import generate_records, write_jsonl

    records = generate_records(days=days, seed=seed, end=_parse_end(end))
    if out is None:
        write_jsonl(records, sys.stdout)
        return
    with out.open("w", encoding="utf-8") as handle:
        lines = write_jsonl(records, handle)
    err_console.print(f"wrote {lines:,} lines to {out}")


def demo_command(
    days: int = typer.Option(45, min=1, max=365, help="How many days of demo history."),
    seed: int = typer.Option(7, help="Same seed, same dataset."),
    judge_per_agent: int = typer.Option(
        2, "--judge-per-agent", min=0, max=100, help="Unscored runs to judge per agent."
    ),
    model: str | None = typer.Option(None, "--model", help="Judge model; default: recommended."),
) -> None:
    """Load the demo dataset, judge a sample of its unscored runs, and print the results."""
    from execlens.demo.generator import generate_records

    settings = load_settings()

    async def work(database: Database) -> tuple[ImportReport, list]:
        await upgrade(database)
        lines = (json.dumps(r) for r in generate_records(days=days, seed=seed))
        report = await import_lines(database, lines)
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
        judge_sample(settings, per_agent=judge_per_agent, model=model)
