"""`execlens sync autogpt`: read finished runs from AutoGPT's database into execlens."""

from collections.abc import Awaitable, Callable
from datetime import timedelta

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from execlens.autogpt.service import DEFAULT_BATCH, AutoGPTSync, SyncReport
from execlens.autogpt.source import URL_EXAMPLE, SourceError, parse_source_url
from execlens.autogpt.write_back import AutoGPTWriteBack, WriteBackReport
from execlens.cli_support import (
    console,
    duration_option,
    err_console,
    fail,
    load_settings,
    run_with_database,
)
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.redaction import redact

sync_app = typer.Typer(help="Sync runs from another system's database.", no_args_is_help=True)


def _summary(report: SyncReport) -> str:
    line = (
        f"synced {report.runs:,} new or changed runs with {report.node_executions:,} node "
        f"executions and {report.graphs:,} graphs ({report.unchanged:,} unchanged); "
        f"removed {report.removed:,} deleted or dry runs"
    )
    if report.trimmed:
        line += f"; trimmed {report.trimmed:,} runs over execlens's node limit"
    if report.invalid:
        run_id, why = report.invalid[0]
        line += f"; left out {len(report.invalid):,} runs execlens cannot store ({run_id}: {why})"
    return line


def _progress() -> Progress:
    return Progress(
        TextColumn("syncing from AutoGPT"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )


@sync_app.command("autogpt")
def autogpt_command(
    once: bool = typer.Option(False, "--once", help="Sync once and exit (the default)."),
    follow: bool = typer.Option(False, "--follow", help="Keep syncing until Ctrl-C."),
    interval: str | None = typer.Option(
        None, "--interval", help="With --follow: time between passes, e.g. 30s; default 30s."
    ),
    lookback: str | None = typer.Option(
        None, "--lookback", help="Re-read runs changed this long before the cursor; default 1h."
    ),
    batch_size: int = typer.Option(DEFAULT_BATCH, min=1, max=1000, help="Runs per commit."),
    write_back: bool = typer.Option(
        False,
        "--write-back",
        help="Also write verdicts into AutoGPT's stats (needs UPDATE on AgentGraphExecution).",
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="With --write-back: replace AutoGPT's own summary and score."
    ),
) -> None:
    """Sync finished runs, their node executions and graphs from AutoGPT's database."""
    settings = load_settings()
    if once and follow:
        raise fail("--once and --follow exclude each other: pass one")
    write_back = write_back or settings.autogpt_write_back
    overwrite = overwrite or settings.autogpt_write_back_overwrite
    if overwrite and not write_back:
        raise fail("--overwrite needs --write-back (or EXECLENS_AUTOGPT_WRITE_BACK=1)")
    if settings.autogpt_database_url is None:
        raise fail(f"EXECLENS_AUTOGPT_DATABASE_URL is not set; set it to {URL_EXAMPLE}")
    source = parse_source_url(settings.autogpt_database_url.get_secret_value())
    every = duration_option("--interval", interval, settings.autogpt_sync_interval)
    back = duration_option("--lookback", lookback, settings.autogpt_sync_lookback, minimum=0)
    err_console.print(f"syncing from {source.label} into {settings.database_label}")

    async def work(database: Database) -> None:
        await upgrade(database)
        sync = AutoGPTSync(source, database, lookback=back, batch_size=batch_size)
        writer = AutoGPTWriteBack(source, database, overwrite=overwrite) if write_back else None
        try:
            await sync.check()
            if writer is not None:
                await writer.check()
            await _first_pass(sync, writer)
            if follow:
                on_pass = _print_pass
                if writer is not None:
                    on_pass = _then_write_back(writer, _warn(every))
                await sync.follow(every, on_pass=on_pass, on_error=_warn(every))
        finally:
            await sync.close()
            if writer is not None:
                await writer.close()

    run_with_database(work, settings)


async def _first_pass(sync: AutoGPTSync, writer: AutoGPTWriteBack | None) -> None:
    with _progress() as progress:
        task = progress.add_task("sync", total=None)

        def on_batch(report: SyncReport) -> None:
            progress.update(task, total=report.total, completed=report.read)

        report = await sync.sync_once(count=True, on_batch=on_batch)
    console.print(_summary(report))
    if writer is not None:
        console.print(_write_back_summary(await writer.write_once()), soft_wrap=True)


def _write_back_summary(report: WriteBackReport) -> str:
    line = f"wrote {report.written:,} verdicts into AutoGPT's stats"
    if report.in_place:
        line += f" ({report.in_place:,} already there)"
    if report.kept_theirs:
        line += (
            f"; kept AutoGPT's own summary or score on {report.kept_theirs:,} runs "
            "(--overwrite replaces them)"
        )
    if report.missing:
        line += f"; {report.missing:,} runs are gone from AutoGPT"
    return line


def _then_write_back(
    writer: AutoGPTWriteBack, warn: Callable[[SourceError], None]
) -> Callable[[SyncReport], Awaitable[None]]:
    async def after_pass(report: SyncReport) -> None:
        await _print_pass(report)
        try:
            written = await writer.write_once()
        except SourceError as exc:
            warn(exc)
            return
        if written.written or written.kept_theirs:
            console.print(_write_back_summary(written), soft_wrap=True)

    return after_pass


def _warn(every: timedelta) -> Callable[[SourceError], None]:
    def warn(exc: SourceError) -> None:
        message = escape(redact(str(exc)))
        err_console.print(f"[yellow]warning:[/] {message}; retrying in {every}", soft_wrap=True)

    return warn


async def _print_pass(report: SyncReport) -> None:
    if report.runs or report.removed or report.invalid:
        console.print(_summary(report))
