"""Commands that compose several features: `execlens judge` and `execlens worker`."""

import asyncio
import signal
from contextlib import suppress

import typer
from rich.panel import Panel

from execlens.autogpt.background import background_sync
from execlens.cli_support import console, err_console, fail, load_settings, run_with_database
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.jobs.worker import Worker
from execlens.judge.ask import JudgeFailed
from execlens.judge.deps import open_judge
from execlens.judge.judge import JudgeRequest, PreparedCall
from execlens.judge.schemas import Verdict
from execlens.judge.service import judge_service
from execlens.otlp.background import background_otlp
from execlens.otlp.export import score_export
from execlens.rules.background import background_rules


def judge_command(
    execution_id: str = typer.Argument(..., help="The execution to judge."),
    model: str | None = typer.Option(None, "--model", help="Model id; default: recommended."),
    show_prompt: bool = typer.Option(False, "--show-prompt", help="Print the prompts sent."),
    rules: bool = typer.Option(True, "--rules/--no-rules", help="Score clear-cut runs by rule."),
) -> None:
    """Judge one execution, store the verdict, and print it with its tokens and cost."""
    settings = load_settings()
    request = JudgeRequest(model=model, use_rules=rules)

    async def work(database: Database) -> tuple[Verdict, PreparedCall | None]:
        await upgrade(database)
        async with open_judge(settings) as judge:
            call = None
            if show_prompt:
                async with database.read() as session:
                    execution, graph = await judge_service.load(session, execution_id)
                call = judge.prepare(execution, graph, request)
            # Sends the verdict as an OTLP evaluation event when an export endpoint is set.
            async with score_export(database, settings):
                verdict = await judge_service.judge_and_store(
                    database, judge, execution_id, request
                )
            return verdict, call

    with console.status("judging"):
        try:
            verdict, call = run_with_database(work, settings)
        except JudgeFailed as exc:
            raise fail(f"no verdict for {execution_id}: {exc}") from None
    if call is not None:
        console.print(Panel(call.system_prompt, title="system prompt", expand=False))
        console.print(Panel(call.user_prompt, title="user prompt", expand=False))
    _print_verdict(verdict)


def _print_verdict(verdict: Verdict) -> None:
    if verdict.judge == "rules":
        console.print("judged by rule (no model call)")
    else:
        digest = f"digest {verdict.digest_tokens:,} tokens"
        if verdict.digest_truncated:
            digest += " (shortened to fit)"
        cost = "unknown" if verdict.cost_usd is None else f"${verdict.cost_usd:.6f}"
        console.print(
            f"{verdict.provider}:{verdict.model} · {digest} · "
            f"{verdict.input_tokens:,} in / {verdict.output_tokens:,} out · cost {cost} · "
            f"{verdict.latency_ms:,} ms"
        )
    clamp = ""
    if verdict.score_clamped_from is not None:
        clamp = f" (model said {verdict.score_clamped_from}, clamped)"
    console.print(f"score: [bold]{verdict.correctness_score:.2f}[/]{clamp}")
    console.print(f"summary: {verdict.activity_status}", highlight=False)


def worker_command() -> None:
    """Run analytics jobs from the shared database until stopped (Ctrl-C or SIGTERM)."""
    settings = load_settings()

    async def work(database: Database) -> None:
        await upgrade(database)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
        async with open_judge(settings) as judge:
            worker = Worker(database, settings, judge)
            err_console.print(f"worker {worker.id} running jobs from {settings.database_label}")
            if settings.autogpt_database_url is not None:
                err_console.print("also syncing from AutoGPT's database, one process at a time")
            async with (
                background_sync(database, settings),
                background_rules(database, settings, worker.wake),
                background_otlp(database, settings),
            ):
                await worker.run(stop)
        err_console.print("worker stopped; its unfinished items are back in their jobs")

    run_with_database(work, settings)
