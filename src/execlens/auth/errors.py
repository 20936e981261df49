"""Why a caller could not be authenticated."""


class AuthenticationError(Exception):
    """Missing or invalid credentials (401)."""


class KeysUnavailableError(Exception):
    """The identity provider's keys cannot be fetched right now (503)."""
