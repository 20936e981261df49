"""`execlens analyze` and `execlens worker`: run analytics jobs from the command line."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from execlens.audit.service import cli_actor
from execlens.cli_support import console, err_console, fail, load_settings, run_with_database
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.errors import field_path
from execlens.executions.service import execution_service
from execlens.jobs.driver import JobDriver, sigint_interrupts
from execlens.jobs.estimate import estimate
from execlens.jobs.models import JobStatus
from execlens.jobs.schemas import JobCreate, JobEstimate, JobOut
from execlens.judge.deps import open_judge
from execlens.otlp.export import score_export

if TYPE_CHECKING:
    from execlens.judge.judge import Judge

EXIT_FAILED, EXIT_PAUSED, EXIT_INTERRUPTED = 1, 3, 130


def _job_params(**options: Any) -> JobCreate:
    """Return the job the options ask for, or fail naming the flag to fix."""
    try:
        return JobCreate(**{k: v for k, v in options.items() if v is not None})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = field_path(error["loc"]) or "options"
        flag = "--" + where.replace("_", "-") if where != "options" else where
        raise fail(f"{flag}: {error['msg'].removeprefix('Value error, ')}") from None


def analyze_command(
    graph_id: str = typer.Option(..., "--graph-id", help="The agent (graph) to judge."),
    graph_version: int | None = typer.Option(None, "--graph-version"),
    user_id: str | None = typer.Option(None, "--user-id"),
    created_after: str | None = typer.Option(None, "--created-after", help="ISO date or time."),
    created_before: str | None = typer.Option(None, "--created-before", help="ISO date/time."),
    model: str | None = typer.Option(None, "--model", help="Judge model; default: recommended."),
    concurrency: int | None = typer.Option(
        None, "--concurrency", help="Calls in flight (1-64); default 10, local model: its slots."
    ),
    rpm: int | None = typer.Option(None, "--rpm", help="At most this many calls per minute."),
    tpm: int | None = typer.Option(None, "--tpm", help="At most this many tokens per minute."),
    max_cost: float | None = typer.Option(None, "--max-cost", help="Pause before spending more."),
    limit: int | None = typer.Option(None, "--limit", help="Judge at most this many runs."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only estimate the work and cost."),
    no_skip_existing: bool = typer.Option(
        False, "--no-skip-existing", help="Judge runs that already have a summary and score."
    ),
    rescore: bool = typer.Option(
        False, "--rescore-if-judge-changed", help="Re-judge verdicts from another model/prompt."
    ),
) -> None:
    """Judge an agent's finished runs as a durable job, with a progress bar.

    Running the same command again resumes an interrupted job.
    """
    params = _job_params(
        graph_id=graph_id,
        graph_version=graph_version,
        user_id=user_id,
        created_after=created_after,
        created_before=created_before,
        model_name=model,
        concurrency=concurrency,
        requests_per_minute=rpm,
        tokens_per_minute=tpm,
        max_cost_usd=max_cost,
        limit=limit,
        skip_existing=not no_skip_existing,
        rescore_if_judge_changed=rescore,
    )
    settings = load_settings()

    async def work(database: Database) -> tuple[JobOut | JobEstimate, str | None]:
        await upgrade(database)
        if dry_run:
            async with database.read() as session:
                return await estimate(session, settings, params), None
        async with score_export(database, settings), open_judge(settings) as judge:
            job = await run_job(database, settings, params, judge)
        hint = None
        if job.total == 0:
            # A mistyped agent id is not "done": say which agents have runs.
            async with database.read() as session:
                hint = await execution_service.unknown_graph_hint(session, graph_id)
        return job, hint

    result, hint = run_with_database(work, settings)
    if isinstance(result, JobEstimate):
        print_estimate(result)
        return
    print_job(result)
    if hint is not None:
        err_console.print(f"note: {hint}", soft_wrap=True)
    if result.status == JobStatus.FAILED.value:
        raise typer.Exit(EXIT_FAILED)
    if result.status == JobStatus.PAUSED.value:
        raise typer.Exit(EXIT_PAUSED)
    if result.status == JobStatus.CANCELLED.value:
        err_console.print("cancelled: run the same command again to resume")
        raise typer.Exit(EXIT_INTERRUPTED)


async def run_job(
    database: Database, settings: Settings, params: JobCreate, judge: "Judge"
) -> JobOut:
    """Create or resume the job, run it here unless a worker is up, and show its progress."""
    driver = JobDriver(database, settings, judge, kind="cli")
    submitted = await driver.submit(params, created_by=cli_actor(), resume_same=True)
    verb = "resuming" if submitted.resumed else "started"
    workers = submitted.workers
    where = f"{workers} running worker(s)" if workers else "this process"
    err_console.print(f"{verb} job {submitted.job.id} with {submitted.job.model}, run by {where}")
    with _progress_bar() as show:
        async with sigint_interrupts() as interrupted:
            return await driver.wait(
                submitted, actor=cli_actor(), interrupted=interrupted, on_progress=show
            )


@contextmanager
def _progress_bar() -> Iterator[Callable[[JobOut], None]]:
    """Show a job's progress with rate, ETA and cost while the block runs."""
    progress = Progress(
        TextColumn("judging"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TextColumn("{task.fields[limit]}"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[cost]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    with progress:
        task = progress.add_task("job", total=None, rate="", limit="", cost="")

        def show(job: JobOut) -> None:
            rate = f"{job.rate_per_second:.1f}/s" if job.rate_per_second else ""
            progress.update(
                task,
                total=job.total,
                completed=job.done,
                rate=rate,
                limit=limit_text(job),
                cost=f"${job.cost_usd:.4f}",
            )

        yield show


def limit_text(job: JobOut) -> str:
    """Say that the provider's rate limit holds the job back, at what limit, until when."""
    limit = job.provider_limit
    if limit is None:
        return ""
    if limit.limited_by == "backoff":
        return "provider-limited: waiting as the provider asked"
    if limit.limited_by == "tokens" and limit.tokens_per_minute:
        rate = f"{limit.tokens_per_minute:,.0f} tokens/min"
    else:
        rate = f"{limit.requests_per_minute or 0:,.0f} requests/min"
    eta = f", {limit.eta_seconds / 60:.1f} min left at that rate" if limit.eta_seconds else ""
    return f"provider-limited: {rate}{eta}"


def _summary(title: str, rows: list[tuple[str, str]]) -> None:
    """Print label/value rows: stays readable in a narrow terminal."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)


def print_estimate(estimate: JobEstimate) -> None:
    cost = "unknown price" if estimate.cost_usd is None else f"${estimate.cost_usd:.4f}"
    _summary(
        "estimate (nothing was judged)",
        [
            ("model", f"{estimate.provider}:{estimate.model}"),
            ("matching runs", f"{estimate.matching_executions:,}"),
            ("to judge", f"{estimate.to_judge:,}"),
            ("settled by rules", f"{estimate.judged_by_rules:.0%} of {estimate.sampled} sampled"),
            ("tokens in / out", f"{estimate.input_tokens:,} / {estimate.output_tokens:,}"),
            ("cost", cost),
        ],
    )


def print_job(job: JobOut) -> None:
    rows = [
        ("status", job.status),
        ("model", f"{job.provider}:{job.model}"),
        ("executions", f"{job.total:,}"),
        ("success", f"{job.succeeded:,}"),
        ("failed", f"{job.failed:,}"),
        ("skipped", f"{job.skipped:,}"),
        ("LLM calls", f"{job.llm_calls:,}"),
        ("tokens in / out", f"{job.input_tokens:,} / {job.output_tokens:,}"),
        ("cost", f"${job.cost_usd:.4f}"),
    ]
    if job.reason:
        rows.append(("reason", job.reason))
    _summary(f"job {job.id}", rows)
