"""The `execlens` command line."""

import sys

import typer

from execlens.auth.cli import apikey_app, token_command
from execlens.auth.links import LINK_MINUTES, is_local_mode, issue_link_token
from execlens.autogpt.cli import sync_app
from execlens.cli_support import console, err_console, fail, load_settings, run_with_database
from execlens.commands import judge_command, worker_command
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.db.migrate import current_revision, head_revision, upgrade
from execlens.demo.cli import demo_command, demo_data_command
from execlens.errors import UserError
from execlens.executions.cli import import_command
from execlens.jobs.cli import analyze_command
from execlens.jobs.eval_cli import judge_eval_command
from execlens.jwt_secret import resolve_jwt_secret
from execlens.labels.cli import agreement_command, labels_app
from execlens.rules.cli import rules_app
from execlens.trends.cli import monitor_command, trends_command

app = typer.Typer(
    help="execlens: judge AI agent executions with an LLM and track accuracy over time.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# The database's own commands live here, at the top: db is the base layer, under the
# CLI helpers they use.
db_app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(apikey_app, name="apikey")
app.add_typer(sync_app, name="sync")
app.add_typer(rules_app, name="rules")
app.add_typer(labels_app, name="labels")
app.command("token")(token_command)
app.command("import")(import_command)
app.command("demo-data")(demo_data_command)
app.command("demo")(demo_command)
app.command("judge")(judge_command)
app.command("analyze")(analyze_command)
app.command("worker")(worker_command)
app.command("trends")(trends_command)
app.command("monitor")(monitor_command)
app.command("agreement")(agreement_command)
app.command("judge-eval")(judge_eval_command)


@db_app.command("upgrade")
def db_upgrade_command() -> None:
    """Apply every pending migration."""
    settings = load_settings()

    async def work(database: Database) -> str | None:
        await upgrade(database)
        return await current_revision(database)

    revision = run_with_database(work, settings)
    console.print(f"database at revision {revision} ({settings.database_label})")


@db_app.command("current")
def db_current_command() -> None:
    """Show the applied revision and the newest one available."""
    settings = load_settings()
    revision = run_with_database(current_revision, settings)
    console.print(f"current: {revision or 'empty database'}; newest: {head_revision()}")


@app.command("serve")
def serve_command(
    host: str | None = typer.Option(None, help="Interface to listen on."),
    port: int | None = typer.Option(None, min=1, max=65535, help="Port to listen on."),
    processes: int | None = typer.Option(
        None,
        min=1,
        max=64,
        help="Processes answering on the port, PostgreSQL only above 1 "
        "[default: EXECLENS_SERVE_PROCESSES, 1].",
    ),
) -> None:
    """Run the API server; it applies pending migrations first."""
    # Imported here: the app (FastAPI, the pages and every router) and uvicorn add about
    # 300 ms to every other command's start-up.
    import uvicorn

    from execlens.app import create_app
    from execlens.serving import processes_problem, serve_processes

    settings = load_settings()
    host = host or settings.host
    port = port or settings.port
    processes = processes or settings.serve_processes
    if processes > 1 and (problem := processes_problem(settings, host, port, processes)):
        raise fail(problem)
    try:
        if processes > 1:
            # Once, before the processes start; each would otherwise race to migrate.
            run_with_database(upgrade, settings)
        else:
            app_ = create_app(settings, server=True)
    except UserError as exc:
        raise fail(str(exc)) from None
    _print_banner(settings, host, port, processes)
    if processes == 1:
        uvicorn.run(app_, host=host, port=port, log_level="info")
    elif stopped := serve_processes(host, port, processes):
        raise fail(stopped)


def _print_banner(settings: Settings, host: str, port: int, processes: int) -> None:
    """Tell where the server listens, what it runs, and how to sign in."""
    err_console.print(f"execlens serving on http://{host}:{port} (docs at /docs)")
    err_console.print(f"database: {settings.database_label}")
    if processes > 1:
        err_console.print(
            f"{processes} processes answer requests and finish OTLP traces; the first also "
            "runs the background work"
        )
    if settings.serve_worker:
        where = "the first process" if processes > 1 else "this process"
        err_console.print(f"analytics jobs run in {where} (EXECLENS_SERVE_WORKER=false to stop)")
    if settings.autogpt_database_url is not None:
        err_console.print("syncing from AutoGPT's database, one process at a time")
    if is_local_mode(settings):
        link = _sign_in_link(settings, host, port)
        # soft_wrap: a wrapped link could not be clicked or copied whole.
        err_console.print(f"dashboard, signed in as the local admin: {link}", soft_wrap=True)
        err_console.print(
            f"  (works once, for {LINK_MINUTES} min; later run `execlens token --admin` "
            "and paste the token)"
        )
    else:
        err_console.print(f"dashboard: http://{host}:{port}/ (sign in with an admin token)")


def _sign_in_link(settings: Settings, host: str, port: int) -> str:
    """Return a one-click sign-in link for the local admin: short-lived and single-use."""
    secret = resolve_jwt_secret(settings, create=True)
    assert secret is not None
    return f"http://{host}:{port}/login?token={issue_link_token(settings, secret)}"


def main() -> None:
    """Run the CLI; an unexpected failure prints one line, not a traceback."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
