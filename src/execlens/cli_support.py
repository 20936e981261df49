"""Helpers every CLI command shares: settings, the database, and one-line errors."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError

from execlens.config import Settings, parse_duration
from execlens.db.dialect import storage_problem
from execlens.db.engine import Database
from execlens.errors import UserError
from execlens.jwt_secret import resolve_jwt_secret
from execlens.redaction import install_log_redaction, redact

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one readable error line and return the exit to raise."""
    message = escape(redact(message))
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def duration_option(
    option: str, text: str | None, default: timedelta, minimum: float = 1
) -> timedelta:
    """Return a duration option (`90s`, `15m`, `1h`), else ``default``; fail in one line."""
    try:
        value = parse_duration(text) if text else default
    except ValueError as exc:
        raise fail(f"{option}: {exc}") from None
    if value.total_seconds() < minimum:
        raise fail(f"{option}: must be at least {int(minimum)}s")
    return value


def load_settings() -> Settings:
    """Read the settings, turning a bad variable into a one-line error."""
    try:
        settings = Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        if not error["loc"]:  # a check across several variables names them itself
            raise fail(error["msg"].removeprefix("Value error, ")) from None
        name = "EXECLENS_" + "_".join(str(p) for p in error["loc"]).upper()
        raise fail(f"{name}: {error['msg']}") from None
    install_log_redaction(settings, extra=[resolve_jwt_secret(settings, create=False)])
    return settings


def run_with_database(work: Callable[[Database], Awaitable[T]], settings: Settings) -> T:
    """Open the configured database, run ``work`` on it, and close it."""

    async def main() -> T:
        database = Database.from_settings(settings)
        try:
            return await work(database)
        finally:
            await database.dispose()

    try:
        return asyncio.run(main())
    except UserError as exc:
        raise fail(str(exc)) from None
    except DBAPIError as exc:
        raise fail(storage_problem(exc) or _database_refusal(exc)) from None
    except OSError as exc:
        if (problem := storage_problem(exc)) is not None:
            raise fail(problem) from None
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        raise fail(f"{exc.strerror or exc}{where}") from None


def _database_refusal(exc: DBAPIError) -> str:
    """Say in one line what the database refused, without the statement or its parameters."""
    reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else "no reason given"
    return (
        f"the database refused the command ({type(exc.orig).__name__}: {redact(reason)}); "
        "if the schema is out of date, run `execlens db upgrade`"
    )
