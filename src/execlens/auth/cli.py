"""`execlens token` and `execlens apikey ...`: local admin tokens and API keys."""

from datetime import timedelta

import typer
from rich.table import Table

from execlens.audit.service import cli_actor
from execlens.auth.models import ApiKeyScope
from execlens.auth.service import api_key_service, local_admin_token
from execlens.cli_support import console, err_console, fail, load_settings, run_with_database
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.jwt_secret import resolve_jwt_secret

apikey_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


def token_command(
    admin: bool = typer.Option(False, "--admin", help="Issue an admin token."),
    hours: int = typer.Option(24, min=1, max=24 * 30, help="How long the token stays valid."),
) -> None:
    """Print a signed admin token for local use (subject local-admin)."""
    if not admin:
        raise fail("pass --admin: execlens issues local tokens for the admin only")
    settings = load_settings()
    secret = resolve_jwt_secret(settings, create=True)
    assert secret is not None
    typer.echo(local_admin_token(settings, secret, timedelta(hours=hours)))


@apikey_app.command("create")
def create_key(
    name: str = typer.Option(..., "--name", help="Who or what the key is for."),
    scope: ApiKeyScope = typer.Option(..., "--scope", help="ingest: write data; admin: all."),
) -> None:
    """Create a key and print it once; only its hash is stored."""
    if not name.strip():
        raise fail("--name must not be empty")

    async def work(database: Database) -> str:
        await upgrade(database)
        async with database.write() as session:
            _, plaintext = await api_key_service.create(
                session, name=name.strip(), scope=scope, actor=cli_actor()
            )
        return plaintext

    plaintext = run_with_database(work, load_settings())
    err_console.print(f"created {scope.value} key '{name.strip()}'; it is shown only once:")
    typer.echo(plaintext)


@apikey_app.command("list")
def list_keys() -> None:
    """List keys without revealing them."""

    async def work(database: Database):  # type: ignore[no-untyped-def]
        await upgrade(database)
        async with database.read() as session:
            return await api_key_service.list(session)

    keys = run_with_database(work, load_settings())
    table = Table("id", "name", "scope", "key starts", "created", "revoked")
    for key in keys:
        table.add_row(
            key.id[:8],
            key.name,
            key.scope.value,
            key.key_prefix + "…",
            key.created_at.strftime("%Y-%m-%d %H:%M"),
            key.revoked_at.strftime("%Y-%m-%d %H:%M") if key.revoked_at else "",
        )
    console.print(table)


@apikey_app.command("revoke")
def revoke_key(
    key_id: str = typer.Argument(..., help="The key's id (or its first characters)."),
) -> None:
    """Revoke a key; requests using it get 401 from then on."""

    async def work(database: Database) -> None:
        async with database.write() as session:
            await api_key_service.revoke(session, key_id, actor=cli_actor())

    run_with_database(work, load_settings())
    console.print(f"revoked {key_id}")
