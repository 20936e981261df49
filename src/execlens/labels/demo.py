"""The demo's labels and the agreement the quick-start demo ends with."""

from execlens.cli_support import console, run_with_database
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.judge.providers import resolve_model
from execlens.labels.cli import agreement_lines
from execlens.labels.schemas import AgreementReport, LabelLine
from execlens.labels.service import label_service

DEMO_LABELER = "demo:generator"


async def store_demo_labels(database: Database, labels: dict[str, float]) -> int:
    """Store the labels the demo generator meant its runs to have (1 good, 0 bad)."""
    lines = [
        (number, LabelLine(execution_id=execution_id, score=score))
        for number, (execution_id, score) in enumerate(labels.items(), start=1)
    ]
    async with database.write() as session:
        return await label_service.import_labels(
            session, database.dialect, lines, labeler=DEMO_LABELER
        )


def print_embedded_model_note(settings: Settings, model: str | None) -> None:
    """Say, next to the verdicts, what the embedded model is for."""
    if resolve_model(settings, model).provider != "local":
        return
    console.print(
        "note: the embedded model (SmolLM2, 135M parameters) is for trying the pipeline "
        "offline; its scores are close to noise (its agreement with the demo's labels is "
        "below). For real judging set a provider key or an Ollama/OpenAI-compatible server.",
        highlight=False,
    )


def print_demo_agreement(settings: Settings, *, labelled: int) -> None:
    """Print how whatever judged the demo's runs agrees with the demo's labels."""

    async def work(database: Database) -> AgreementReport:
        async with database.read() as session:
            return await label_service.agreement(session, threshold=0.5)

    report = run_with_database(work, settings)
    if not report.judges:
        console.print(f"{labelled:,} runs carry the demo's labels; none was judged yet")
        return
    for line in agreement_lines(report):
        console.print(line, highlight=False, soft_wrap=True)
