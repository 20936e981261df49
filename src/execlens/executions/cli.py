"""`execlens import`: load a JSONL file of graphs and executions."""

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import typer
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from execlens.cli_support import console, err_console, fail, load_settings, run_with_database
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.executions.importer import DEFAULT_BATCH, ImportReport, import_lines

MAX_REPORTED_SKIPS = 20
PROGRESS_EVERY = 500


def _lines(handle: TextIO, progress: Progress, task: TaskID) -> Iterator[str]:
    # Advance the bar every few hundred lines: a Rich update per line would cost more
    # than the import of the line itself.
    pending = 0
    for number, line in enumerate(handle, start=1):
        pending += len(line.encode())
        if number % PROGRESS_EVERY == 0:
            progress.update(task, advance=pending)
            pending = 0
        yield line
    progress.update(task, advance=pending)


def import_command(
    file: str = typer.Argument(..., help="A .jsonl file, or - for standard input."),
    batch_size: int = typer.Option(DEFAULT_BATCH, min=1, max=1000, help="Records per commit."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Import valid lines and report the invalid ones."
    ),
) -> None:
    """Import graphs and executions from JSONL, one object per line."""
    settings = load_settings()
    if file == "-":
        handle, total = sys.stdin, None
    else:
        path = Path(file)
        if not path.is_file():
            raise fail(f"{file}: no such file")
        handle, total = path.open(encoding="utf-8"), path.stat().st_size

    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[executions]:,} executions"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    task = progress.add_task("import", total=total, executions=0)

    def on_progress(report: ImportReport) -> None:
        progress.update(task, executions=report.executions)

    async def work(database: Database) -> ImportReport:
        await upgrade(database)
        return await import_lines(
            database,
            _lines(handle, progress, task),
            batch_size=batch_size,
            skip_invalid=skip_invalid,
            on_progress=on_progress,
        )

    try:
        with progress, handle:
            report = run_with_database(work, settings)
    except UnicodeDecodeError as exc:
        raise fail(f"{file} is not UTF-8 text ({exc.reason})") from None
    _print_report(report)


def _print_report(report: ImportReport) -> None:
    console.print(
        f"imported {report.graphs:,} graphs, {report.executions:,} executions and "
        f"{report.node_executions:,} node executions from {report.lines:,} lines"
    )
    if report.skipped:
        console.print(f"[yellow]skipped {len(report.skipped):,} invalid lines:[/]")
        for skipped in report.skipped[:MAX_REPORTED_SKIPS]:
            console.print(f"  line {skipped.line}: {skipped.reason}", highlight=False)
        if len(report.skipped) > MAX_REPORTED_SKIPS:
            console.print(f"  … and {len(report.skipped) - MAX_REPORTED_SKIPS:,} more")
