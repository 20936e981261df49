"""`execlens rules`: add, list, pause, resume and remove judging rules."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from pydantic import ValidationError

from execlens.audit.service import cli_actor
from execlens.cli_support import console, fail, load_settings, run_with_database
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.rules.models import JudgingRule
from execlens.rules.schemas import RuleCreate, RuleHealth, RuleUpdate
from execlens.rules.service import rule_service

rules_app = typer.Typer(help="Judge new runs as they arrive.", no_args_is_help=True)
T = TypeVar("T")


def _run(work: Callable[[Database], Awaitable[T]]) -> T:
    settings = load_settings()

    async def migrated(database: Database) -> T:
        await upgrade(database)
        return await work(database)

    return run_with_database(migrated, settings)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"])
    return f"{field.replace('_', '-')}: {error['msg']}"


@rules_app.command("add")
def add_command(
    graph_id: str | None = typer.Option(
        None, "--graph-id", help="One agent; omit for every agent."
    ),
    sample_rate: float = typer.Option(1.0, "--sample-rate", help="Share of new runs, 0 to 1."),
    model: str | None = typer.Option(None, "--model", help="Judge model; default: recommended."),
    daily_budget: float | None = typer.Option(
        None, "--daily-budget", help="USD per UTC day; the rule pauses until the next day."
    ),
    status: list[str] = typer.Option(
        ["COMPLETED", "FAILED", "TERMINATED"], "--status", help="Finished statuses to judge."
    ),
    name: str | None = typer.Option(None, "--name", help="A name to show; default from the rule."),
) -> None:
    """Add a rule: judge a sample of one agent's (or every agent's) new finished runs."""
    try:
        params = RuleCreate(
            name=name,
            graph_id=graph_id,
            statuses=[s.upper() for s in status],  # type: ignore[misc]
            sample_rate=sample_rate,
            model_name=model,
            daily_budget_usd=daily_budget,
        )
    except ValidationError as exc:
        raise fail(_first_error(exc)) from None
    settings = load_settings()

    async def work(database: Database) -> JudgingRule:
        async with database.write() as session:
            return await rule_service.create(session, settings, params, actor=cli_actor())

    rule = _run(work)
    console.print(f"rule {rule.id} added: {rule.name}, judged by {rule.model}", soft_wrap=True)


@rules_app.command("list")
def list_command() -> None:
    """List rules with their spend today, backlog and arrival-to-verdict lag."""

    async def work(database: Database) -> list[tuple[JudgingRule, RuleHealth]]:
        async with database.read() as session:
            rules = await rule_service.list_rules(session)
            return [(rule, await rule_service.health(session, rule)) for rule in rules]

    rows = _run(work)
    if not rows:
        console.print("no judging rules; add one with `execlens rules add`")
        return
    for rule, health in rows:
        budget = f"${rule.daily_budget_usd:.2f}/day" if rule.daily_budget_usd else "no budget"
        state = "paused" if rule.paused else "budget spent" if health.budget_exhausted else "on"
        console.print(
            f"{rule.id}  {rule.name} [{state}]: {rule.graph_id or 'every agent'}, "
            f"{rule.sample_rate:.0%} of runs, {rule.model}, {budget}, "
            f"spent ${health.spent_today_usd:.4f} today, backlog {health.backlog}, "
            f"lag p50/p95 {_lag(health)}",
            soft_wrap=True,
            markup=False,
        )


def _lag(health: RuleHealth) -> str:
    if health.lag_p50_seconds is None or health.lag_p95_seconds is None:
        return "-"
    return f"{health.lag_p50_seconds:.1f}s / {health.lag_p95_seconds:.1f}s"


def _change(rule_id: str, changes: RuleUpdate, done: str) -> None:
    settings = load_settings()

    async def work(database: Database) -> None:
        async with database.write() as session:
            await rule_service.update(session, settings, rule_id, changes, actor=cli_actor())

    _run(work)
    console.print(f"rule {rule_id} {done}")


@rules_app.command("pause")
def pause_command(rule_id: str) -> None:
    """Pause a rule: it picks no new runs, and its open job stops."""
    _change(rule_id, RuleUpdate(paused=True), "paused")


@rules_app.command("resume")
def resume_command(rule_id: str) -> None:
    """Resume a paused rule."""
    _change(rule_id, RuleUpdate(paused=False), "resumed")


@rules_app.command("remove")
def remove_command(rule_id: str) -> None:
    """Remove a rule; its open job is cancelled and its verdicts stay."""

    async def work(database: Database) -> None:
        async with database.write() as session:
            await rule_service.delete(session, rule_id, actor=cli_actor())

    _run(work)
    console.print(f"rule {rule_id} removed")
