"""`execlens judge-eval`: try candidate judges on the labelled runs, compare their agreement."""

from pathlib import Path

import typer
from pydantic import ValidationError
from rich.table import Table

from execlens.audit.service import cli_actor
from execlens.cli_support import console, err_console, fail, load_settings, run_with_database
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.errors import UserError, field_path
from execlens.jobs.driver import JobDriver, sigint_interrupts
from execlens.jobs.evaluation import (
    Candidate,
    CandidateResult,
    candidate_job,
    check_jobs,
    evaluate,
    labels_to_use,
)
from execlens.jobs.schemas import JobCreate, JobOut
from execlens.judge.deps import open_judge
from execlens.labels.cli import read_label_lines
from execlens.labels.schemas import LabelLine

EXIT_FAILED = 1


def _read_prompt(path: Path, flag: str) -> str:
    if not path.is_file():
        raise fail(f"{flag}: {path}: no such file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise fail(f"{flag}: {path} is not UTF-8 text") from None


def _per_candidate(files: list[Path], count: int, flag: str) -> list[str | None]:
    """Return each candidate's prompt: one file for all, or one per --model in order."""
    if not files:
        return [None] * count
    if len(files) not in (1, count):
        raise fail(f"{flag}: give it once (for every --model) or once per --model ({count})")
    prompts: list[str | None] = [_read_prompt(path, flag) for path in files]
    return prompts * count if len(prompts) == 1 else list(prompts)


def _candidates(
    models: list[str], system_files: list[Path], user_files: list[Path]
) -> list[Candidate]:
    """Return the candidates the flags describe; no --model means the recommended one."""
    names: list[str | None] = list(models) or [None]
    systems = _per_candidate(system_files, len(names), "--system-prompt-file")
    users = _per_candidate(user_files, len(names), "--user-prompt-file")
    return [Candidate(*given) for given in zip(names, systems, users, strict=True)]


def _jobs(
    candidates: list[Candidate], max_cost: float | None, concurrency: int | None
) -> list[JobCreate]:
    """Return each candidate's job, or fail naming the flag to fix."""
    try:
        return [
            candidate_job(c, max_cost_usd=max_cost, concurrency=concurrency) for c in candidates
        ]
    except ValidationError as exc:
        error = exc.errors()[0]
        flags = {"max_cost_usd": "--max-cost", "model_name": "--model"}
        where = field_path(error["loc"]) or "options"
        flag = flags.get(where, "--" + where.replace("_", "-"))
        raise fail(f"{flag}: {error['msg'].removeprefix('Value error, ')}") from None


def judge_eval_command(
    models: list[str] = typer.Option(
        [], "--model", help="A candidate judge model; repeat to compare. Default: recommended."
    ),
    labels_file: Path | None = typer.Option(
        None, "--labels", help="JSONL labels {execution_id, score}; default: the stored labels."
    ),
    system_prompt_files: list[Path] = typer.Option(
        [], "--system-prompt-file", help="Once for every --model, or once per --model."
    ),
    user_prompt_files: list[Path] = typer.Option(
        [], "--user-prompt-file", help="Once for every --model, or once per --model."
    ),
    max_cost: float | None = typer.Option(
        None, "--max-cost", help="Pause each candidate's job before it spends more (USD)."
    ),
    concurrency: int | None = typer.Option(None, "--concurrency", help="LLM calls in flight."),
    threshold: float = typer.Option(
        0.5, "--threshold", min=0.01, max=1.0, help="Scores and labels at or above it pass."
    ),
) -> None:
    """Judge the labelled runs with each candidate judge and compare their agreement.

    The candidates' verdicts are kept in each run's history, but never replace the
    scores the trends and alerts read.
    """
    settings = load_settings()
    if labels_file is not None and not labels_file.is_file():
        raise fail(f"--labels: {labels_file}: no such file")
    jobs = _jobs(_candidates(models, system_prompt_files, user_prompt_files), max_cost, concurrency)

    async def work(database: Database) -> list[CandidateResult]:
        check_jobs(settings, jobs)
        lines = read_label_lines(labels_file) if labels_file is not None else None
        await upgrade(database)
        return await _judge_all(settings, database, jobs, lines, threshold)

    try:
        results = run_with_database(work, settings)
    except UnicodeDecodeError as exc:
        raise fail(f"--labels: {labels_file} is not UTF-8 text ({exc.reason})") from None
    console.print(agreement_table(results, threshold))
    if any(result.job.status != "completed" for result in results):
        raise typer.Exit(EXIT_FAILED)


async def _judge_all(
    settings: Settings,
    database: Database,
    jobs: list[JobCreate],
    lines: list[tuple[int, LabelLine]] | None,
    threshold: float,
) -> list[CandidateResult]:
    """Judge the labelled runs with every candidate, showing which one and how far."""
    async with database.read() as session:
        labels = await labels_to_use(session, lines)
    if not labels:
        raise UserError(
            "no labelled runs: label some (`execlens labels import FILE.jsonl`) "
            "or pass --labels FILE"
        )
    async with open_judge(settings) as judge, sigint_interrupts() as interrupted:
        driver = JobDriver(database, settings, judge, kind="cli")
        with err_console.status("judging the labelled runs") as status:

            def show(job: JobOut) -> None:
                status.update(f"judging with {job.provider}:{job.model}: {job.done}/{job.total}")

            return await evaluate(
                driver,
                jobs,
                labels,
                threshold=threshold,
                actor=cli_actor(),
                interrupted=interrupted,
                on_progress=show,
            )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def agreement_table(results: list[CandidateResult], threshold: float) -> Table:
    """Return the candidates' agreement side by side, a column each."""
    table = Table(title=f"agreement with the labels (pass: at or above {threshold:g})")
    table.add_column("")
    for result in results:
        table.add_column(
            f"{result.job.provider}:{result.job.model}\nprompts {result.prompt_hash[:8]}",
            justify="right",
        )
    rows: list[tuple[str, list[str]]] = [
        ("n", [f"{r.agreement.n:,}" for r in results]),
        ("ROC AUC", [_number(r.agreement.roc_auc) for r in results]),
        ("Spearman", [_number(r.agreement.spearman) for r in results]),
        ("MAE", [_number(r.agreement.mae) for r in results]),
        (f"accuracy @ {threshold:g}", [_number(r.agreement.accuracy) for r in results]),
        (f"kappa @ {threshold:g}", [_number(r.agreement.cohen_kappa) for r in results]),
        ("failed", [f"{r.job.failed:,}" for r in results]),
        ("cost", [f"${r.job.cost_usd:.4f}" for r in results]),
        ("job", [_job_state(r.job) for r in results]),
    ]
    for name, values in rows:
        table.add_row(name, *values)
    return table


def _job_state(job: JobOut) -> str:
    state = f"{job.id[:8]} {job.status}"
    return state if job.status == "completed" else f"{state}: {job.reason}"
