"""The JWT secret: the configured one, else the local one generated into the data directory.

Base layer, not auth: the CLI's log redaction must know the secret without loading auth.
"""

import os
import secrets
from pathlib import Path

from execlens.config import Settings
from execlens.db.engine import make_private_dir

SECRET_FILE = "jwt_secret"


def local_secret_path(settings: Settings) -> Path:
    """Return where the generated local JWT secret is kept."""
    return settings.data_dir / SECRET_FILE


def resolve_jwt_secret(settings: Settings, *, create: bool) -> str | None:
    """Return the configured secret, else the local one, generating it when ``create``."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    path = local_secret_path(settings)
    if path.exists():
        return path.read_text().strip()
    if not create:
        return None
    make_private_dir(settings.data_dir)
    secret = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once must not overwrite each other's secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret
