"""Errors a user can act on. Endpoints map them to 4xx; the CLI prints one line and exits 1."""


class UserError(Exception):
    """Bad input from the user; the message says what to fix."""

    status_code = 422


class NotFoundError(UserError):
    """The requested object does not exist."""

    status_code = 404
