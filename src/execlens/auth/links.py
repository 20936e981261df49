"""One-click sign-in links for the local admin: local mode only, short-lived, single-use."""

import uuid
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.auth import repository
from execlens.auth.errors import AuthenticationError
from execlens.auth.service import LOCAL_ADMIN, local_admin_token
from execlens.config import Settings
from execlens.db.engine import Dialect

# The `purpose` claim marks a link's token: bearer authentication refuses it, so a link
# copied from a browser's history opens nothing but the (already used) link itself.
SIGN_IN_PURPOSE = "sign-in-link"
LINK_MINUTES = 15
EXPIRED = "This sign-in link has expired; run `execlens token --admin` and paste the token."
USED = (
    "This sign-in link was already used; a link works once. "
    "Run `execlens token --admin` and paste the token."
)
NOT_LOCAL = (
    "One-click sign-in links work only in local mode (no EXECLENS_JWT_SECRET and no JWKS); "
    "paste a token or API key instead."
)


def is_local_mode(settings: Settings) -> bool:
    """Tell whether execlens signs its own tokens: no configured secret and no JWKS."""
    jwks = (settings.jwt_jwks, settings.jwt_jwks_file, settings.jwt_jwks_url)
    return settings.jwt_secret is None and not any(jwks)


def issue_link_token(settings: Settings, secret: str, minutes: int = LINK_MINUTES) -> str:
    """Return the token of a new sign-in link for the local admin."""
    return local_admin_token(
        settings,
        secret,
        timedelta(minutes=minutes),
        extra={"purpose": SIGN_IN_PURPOSE, "jti": uuid.uuid4().hex},
    )


async def redeem_link(
    session: AsyncSession, dialect: Dialect, settings: Settings, secret: str | None, token: str
) -> None:
    """Accept a link's token once, recording it as used; AuthenticationError otherwise."""
    if not is_local_mode(settings) or secret is None:
        raise AuthenticationError(NOT_LOCAL)
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            options={"require": ["exp", "sub", "jti", "purpose"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthenticationError(EXPIRED) from None
    except jwt.InvalidTokenError:
        raise AuthenticationError("This sign-in link is not valid.") from None
    if claims["purpose"] != SIGN_IN_PURPOSE or claims["sub"] != LOCAL_ADMIN:
        raise AuthenticationError("This sign-in link is not valid.")
    now = datetime.now(UTC)
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    if not await repository.mark_link_used(
        session, dialect, str(claims["jti"])[:64], now=now, expires_at=expires_at
    ):
        raise AuthenticationError(USED)
