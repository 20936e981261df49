"""`execlens trends` and `execlens monitor`, and the trends table the demo ends with."""

from datetime import timedelta

import typer
from rich.table import Table

from execlens.cli_support import (
    console,
    duration_option,
    err_console,
    fail,
    load_settings,
    run_with_database,
)
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.errors import UserError
from execlens.trends.health import describe
from execlens.trends.monitor import GraphCheck, HealthCheck, Monitor
from execlens.trends.notify import Delivery, channels_from_settings
from execlens.trends.schemas import AccuracyLatestData, AccuracyTrendsResponse
from execlens.trends.service import AgentTrend, dashboard_link, trend_query, trend_service

# Query fields as the options that set them, so an error names what the user typed.
_OPTIONS = {"days_back": "--days-back", "drop_threshold": "--threshold", "window": "--window"}
_BARS = " ▁▂▃▄▅▆▇█"
_CHART_WIDTH = 12


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def sparkline(scores: list[float | None]) -> str:
    """Return one character per score (0 to 100), a blank for a day without one."""
    return "".join(" " if s is None else _BARS[round(s / 100 * (len(_BARS) - 1))] for s in scores)


def _bar(score: float | None, width: int = _CHART_WIDTH) -> str:
    if score is None:
        return ""
    eighths = round(max(0.0, min(score, 100.0)) / 100 * width * 8)
    return "█" * (eighths // 8) + (_BARS[eighths % 8] if eighths % 8 else "")


def alert_line(name: str, trend: AccuracyTrendsResponse, link: str) -> str:
    """Return the one line that says whether and how far the agent's accuracy dropped."""
    latest = trend.latest_data
    if trend.alert is not None:
        a = trend.alert
        return (
            f"[bold red]ALERT[/] {name}: 3-day average {a.three_day_avg:.1f} is "
            f"{a.drop_percent:.1f}% below the 7-day average {a.seven_day_avg:.1f}; {link}"
        )
    if trend.alert_suppressed:
        return f"[yellow]no alert[/] for {name}: {trend.alert_suppressed}"
    if latest.drop_percent is None:
        return f"no alert for {name}: not enough scored days to compare"
    return f"no alert for {name}: drop {latest.drop_percent:.1f}%"


def _daily_table(points: list[AccuracyLatestData]) -> Table:
    table = Table("day (UTC)", "runs", "scored", "daily", "3-day", "7-day", "14-day")
    table.add_column("daily score", no_wrap=True, min_width=_CHART_WIDTH)
    for p in reversed(points):  # oldest first: the newest day ends up next to the prompt
        table.add_row(
            p.date.date().isoformat(),
            str(p.executions),
            str(p.scored),
            _score(p.daily_score),
            _score(p.three_day_avg),
            _score(p.seven_day_avg),
            _score(p.fourteen_day_avg),
            _bar(p.daily_score),
        )
    return table


def trends_command(
    graph_id: str = typer.Option(..., "--graph-id", help="The agent (graph id) to show."),
    user_id: str | None = typer.Option(None, "--user-id", help="Only this user's runs."),
    days_back: int = typer.Option(30, "--days-back", help="UTC days to look back, 1 to 365."),
    threshold: float = typer.Option(10.0, "--threshold", help="Alert at this % drop, 0 to 100."),
    window: str = typer.Option("calendar", "--window", help="calendar (default) or rows."),
    min_executions: int = typer.Option(
        1, "--min-executions", help="No alert on fewer scored runs in the 3-day window."
    ),
) -> None:
    """Print an agent's daily accuracy, its 3/7/14-day averages and any drop alert."""
    settings = load_settings()
    try:
        query = trend_query(
            graph_id=graph_id,
            user_id=user_id,
            days_back=days_back,
            drop_threshold=threshold,
            window=window,
            min_executions=min_executions,
            include_historical=True,
        )
    except UserError as exc:
        field, _, message = str(exc).partition(": ")
        raise fail(f"{_OPTIONS.get(field, '--' + field.replace('_', '-'))}: {message}") from None

    async def work(database: Database) -> tuple[str, AccuracyTrendsResponse]:
        await upgrade(database)
        async with database.read() as session:
            name = await trend_service.graph_name(session, graph_id)
            trend = await trend_service.trends(session, database.dialect, query)
        return name or graph_id, trend

    name, trend = run_with_database(work, settings)
    latest = trend.latest_data
    console.print(
        f"[bold]{name}[/] ({graph_id}): {query.window} windows, last {days_back} UTC days",
        highlight=False,
        soft_wrap=True,
    )
    if not trend.historical_data:
        console.print("no finished runs in that period")
        return
    console.print(
        f"latest {latest.date.date()}: daily {_score(latest.daily_score)}, "
        f"3-day {_score(latest.three_day_avg)}, 7-day {_score(latest.seven_day_avg)}, "
        f"14-day {_score(latest.fourteen_day_avg)} ({latest.scored} of {latest.executions} "
        "runs scored)",
        highlight=False,
        soft_wrap=True,
    )
    console.print(_daily_table(trend.historical_data))
    link = dashboard_link(settings, graph_id, user_id)
    console.print(alert_line(name, trend, link), highlight=False, soft_wrap=True)


def print_agent_trends(settings: Settings) -> None:
    """Print every agent's latest averages and its drop alert, as the monitor would judge them."""

    async def work(database: Database) -> list[AgentTrend]:
        async with database.read() as session:
            return await trend_service.agent_trends(session, database.dialect, settings)

    agents = run_with_database(work, settings)
    table = Table(
        "agent",
        "daily",
        "3-day",
        "7-day",
        "14-day",
        "drop %",
        title=f"accuracy trends, scores 0 to 100 ({settings.monitor_window} windows, UTC days)",
    )
    table.add_column("last 14 days", no_wrap=True, min_width=14)
    for agent in agents:
        latest = agent.trend.latest_data
        by_day = {p.date.date(): p.daily_score for p in agent.trend.historical_data or []}
        last = latest.date.date()
        days = [by_day.get(last - timedelta(days=n)) for n in range(13, -1, -1)]
        table.add_row(
            agent.name,
            _score(latest.daily_score),
            _score(latest.three_day_avg),
            _score(latest.seven_day_avg),
            _score(latest.fourteen_day_avg),
            _score(latest.drop_percent),
            sparkline(days),
        )
    console.print(table)
    for agent in agents:
        link = dashboard_link(settings, agent.graph_id)
        console.print(alert_line(agent.name, agent.trend, link), highlight=False, soft_wrap=True)


def _outcomes(deliveries: list[Delivery]) -> str:
    return "".join(f"; {d.channel} {'sent' if d.ok else f'failed: {d.error}'}" for d in deliveries)


def _print_cycle(checks: list[GraphCheck], health: list[HealthCheck]) -> None:
    opened = sum(1 for c in checks if c.action == "opened")
    console.print(f"checked {len(checks)} agents, {opened} new alerts", highlight=False)
    for check in checks:
        if check.action == "none":
            continue
        drop = check.trend.latest_data.drop_percent
        line = f"  {check.name}: {check.action.replace('_', ' ')} (drop {_score(drop)}%)"
        console.print(line + _outcomes(check.deliveries), highlight=False, soft_wrap=True)
    found = sum(1 for c in health if c.finding is not None)
    console.print(f"evaluator health: {found} problems", highlight=False)
    for h in health:
        what = describe(h.kind, h.finding.numbers) if h.finding else "the condition is gone"
        line = f"  {h.kind} {h.subject}: {h.action.replace('_', ' ')}; {what}"
        console.print(line + _outcomes(h.deliveries), highlight=False, soft_wrap=True)


def monitor_command(
    once: bool = typer.Option(False, "--once", help="Check once and exit."),
    interval: str | None = typer.Option(
        None, "--interval", help="Time between checks, e.g. 15m or 1h; default 1h."
    ),
) -> None:
    """Check every active agent's accuracy, store drop alerts and notify the channels."""
    settings = load_settings()
    every = duration_option("--interval", interval, settings.monitor_interval)
    labels = [channel.label for channel in channels_from_settings(settings)]
    targets = ", ".join(labels) or "no channel (set EXECLENS_ALERT_WEBHOOK_URLS, ...)"
    err_console.print(f"monitoring {settings.database_label}; alerts go to {targets}")

    async def work(database: Database) -> None:
        await upgrade(database)
        await Monitor(database, settings).run(interval=every, once=once, on_cycle=_print_cycle)

    run_with_database(work, settings)
