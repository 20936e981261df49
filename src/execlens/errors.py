"""Errors a user can act on. Endpoints map them to 4xx; the CLI prints one line and exits 1."""

from collections.abc import Iterable


class UserError(Exception):
    """Bad input from the user; the message says what to fix, ``field`` which input."""

    status_code = 422

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ConflictError(UserError):
    """The request is valid but the object's state does not allow it."""

    status_code = 409


class UpstreamError(UserError):
    """A provider the request depends on failed; the message says what to fix."""

    status_code = 502


class NotFoundError(UserError):
    """The requested object does not exist."""

    status_code = 404


def field_path(loc: Iterable[str | int], skip: Iterable[str] = ()) -> str:
    """Render a pydantic error location as "executions[3].stats.cost", leaving out ``skip``."""
    skipped = set(skip)
    path = ""
    for part in (str(p) for p in loc if p not in skipped):
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return path
