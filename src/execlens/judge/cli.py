"""`execlens judge`: judge one stored execution and show how."""

from typing import TYPE_CHECKING

import typer
from rich.panel import Panel

from execlens.cli_support import console, fail, load_settings, run_with_database
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.judge.schemas import Verdict

if TYPE_CHECKING:
    from execlens.judge.judge import PreparedCall


def judge_command(
    execution_id: str = typer.Argument(..., help="The execution to judge."),
    model: str | None = typer.Option(None, "--model", help="Model id; default: recommended."),
    show_prompt: bool = typer.Option(False, "--show-prompt", help="Print the prompts sent."),
    rules: bool = typer.Option(True, "--rules/--no-rules", help="Score clear-cut runs by rule."),
) -> None:
    """Judge one execution, store the verdict, and print it with its tokens and cost."""
    # Imported here: the LLM SDKs take seconds to load, and other commands don't need them.
    from execlens.judge.ask import JudgeFailed
    from execlens.judge.deps import open_judge
    from execlens.judge.judge import JudgeRequest
    from execlens.judge.service import judge_service

    settings = load_settings()
    request = JudgeRequest(model=model, use_rules=rules)

    async def work(database: Database) -> "tuple[Verdict, PreparedCall | None]":
        await upgrade(database)
        async with open_judge(settings) as judge:
            call = None
            if show_prompt:
                async with database.read() as session:
                    execution, graph = await judge_service.load(session, execution_id)
                call = judge.prepare(execution, graph, request)
            verdict = await judge_service.judge_and_store(database, judge, execution_id, request)
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
