"""`execlens db ...`: schema migrations."""

import typer

from execlens.cli_support import console, load_settings, run_with_database
from execlens.db.engine import Database
from execlens.db.migrate import current_revision, head_revision, upgrade

app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command() -> None:
    """Apply every pending migration."""
    settings = load_settings()

    async def work(database: Database) -> str | None:
        await upgrade(database)
        return await current_revision(database)

    revision = run_with_database(work, settings)
    console.print(f"database at revision {revision} ({settings.database_label})")


@app.command("current")
def current_command() -> None:
    """Show the applied revision and the newest one available."""
    settings = load_settings()
    revision = run_with_database(current_revision, settings)
    console.print(f"current: {revision or 'empty database'}; newest: {head_revision()}")
