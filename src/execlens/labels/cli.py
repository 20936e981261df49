"""`execlens labels import` and `execlens agreement`, and the agreement table the demo ends with."""

import json
from pathlib import Path

import typer
from pydantic import ValidationError

from execlens.audit.service import cli_actor
from execlens.cli_support import console, fail, load_settings, run_with_database
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.errors import UserError, field_path
from execlens.labels.schemas import AgreementReport, LabelLine
from execlens.labels.service import label_service

labels_app = typer.Typer(help="Human labels of runs.", no_args_is_help=True)
NOTHING_WRITTEN = "nothing was written; fix the line and import again"


def read_label_lines(path: Path) -> list[tuple[int, LabelLine]]:
    """Return the numbered labels of a JSONL file, or raise UserError naming the bad line."""
    lines = []
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                lines.append((number, LabelLine.model_validate(json.loads(text))))
            except json.JSONDecodeError as exc:
                raise UserError(
                    f"line {number}: not valid JSON ({exc.msg}); {NOTHING_WRITTEN}"
                ) from None
            except ValidationError as exc:
                error = exc.errors()[0]
                where = field_path(error["loc"]) or "line"
                raise UserError(
                    f"line {number}: {where}: {error['msg']} ({NOTHING_WRITTEN})"
                ) from None
    return lines


@labels_app.command("import")
def import_labels_command(
    file: Path = typer.Argument(..., help="JSONL: one {execution_id, score, note} per line."),
    by: str | None = typer.Option(None, "--by", help="Who gave the labels; default: you."),
) -> None:
    """Import labels from JSONL; any bad line stops the import before anything is written."""
    settings = load_settings()
    if not file.is_file():
        raise fail(f"{file}: no such file")
    labeler = f"cli:{by}" if by else cli_actor()

    async def work(database: Database) -> int:
        await upgrade(database)
        lines = read_label_lines(file)
        async with database.write() as session:
            return await label_service.import_labels(
                session, database.dialect, lines, labeler=labeler
            )

    try:
        count = run_with_database(work, settings)
    except UnicodeDecodeError as exc:
        raise fail(f"{file} is not UTF-8 text ({exc.reason}); {NOTHING_WRITTEN}") from None
    console.print(f"imported {count:,} labels as {labeler}")


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def agreement_lines(report: AgreementReport) -> list[str]:
    """Return the agreement report as lines, a short block per judge configuration."""
    labelled, threshold = report.labelled_runs, report.threshold
    lines = [f"agreement with {labelled:,} labelled runs (pass: at or above {threshold:g})"]
    for judge in report.judges:
        c = judge.confusion
        name = f"{judge.provider}/{judge.model}" if judge.model else judge.judge
        lines += [
            f"{name}  prompt {judge.prompt_hash[:8]}  judge version {judge.judge_version}",
            f"  n {judge.n:,}  AUC {_number(judge.roc_auc)}  Spearman {_number(judge.spearman)}"
            f"  MAE {_number(judge.mae)}  accuracy {_number(judge.accuracy)}"
            f"  kappa {_number(judge.cohen_kappa)}",
            f"  pass judged pass {c.true_positive}, fail judged pass {c.false_positive}, "
            f"fail judged fail {c.true_negative}, pass judged fail {c.false_negative}",
        ]
    return lines


def agreement_command(
    threshold: float = typer.Option(
        0.5, "--threshold", min=0.01, max=1.0, help="Scores and labels at or above it pass."
    ),
) -> None:
    """Print how each judge configuration's scores agree with the labels of the same runs."""
    settings = load_settings()

    async def work(database: Database) -> AgreementReport:
        await upgrade(database)
        async with database.read() as session:
            return await label_service.agreement(session, threshold=threshold)

    report = run_with_database(work, settings)
    if not report.judges:
        console.print(
            f"{report.labelled_runs:,} labelled runs, none judged yet: "
            "label runs (`execlens labels import FILE.jsonl`) and judge them first"
        )
        return
    for line in agreement_lines(report):
        console.print(line, highlight=False, soft_wrap=True)
