"""The dashboard's sign-in: verify a pasted credential, keep it in cookies, guard pages."""

import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import jwt
from fastapi import HTTPException, Request, Response, status

from execlens.auth.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    authenticate,
    credential_kind,
)
from execlens.auth.service import LOCAL_ADMIN, Principal, local_admin_token

# A session lasts at most this long; a token that expires sooner ends it sooner.
SESSION_HOURS = 12
# What the sign-in page may say about why it is shown. The link carries only the code, so
# a crafted link cannot make the page display text of its author's choosing.
SIGN_IN_REASONS = {
    "expired": "Your session has expired; please sign in again.",
    "invalid": "Your session is no longer valid (revoked, or the server's secret changed); "
    "please sign in again.",
    "not-admin": "This credential is valid but not an admin's; the dashboard is for admins.",
}


class SignInRequired(Exception):
    """The page needs a signed-in admin; the handler redirects to /login."""

    def __init__(self, path: str, reason: str | None = None) -> None:
        super().__init__(reason or "sign in")
        self.path = path
        self.reason = reason


def safe_next(path: str | None) -> str:
    """Return ``path`` when it is a local page, else the dashboard's home (no open redirect)."""
    if path and path.startswith("/") and not path.startswith(("//", "/\\")):
        return path
    return "/"


def login_url(path: str, reason: str | None = None) -> str:
    """Return the sign-in page that comes back to ``path``, with a SIGN_IN_REASONS code."""
    url = f"/login?next={quote(safe_next(path), safe='')}"
    return url + (f"&reason={quote(reason, safe='')}" if reason else "")


async def verify_credential(request: Request, credential: str) -> Principal:
    """Return the principal of a token or API key with the API's own checks (401 if bad)."""
    token, api_key = credential_kind(credential.strip())
    return await authenticate(request, request.app.state.database, token, api_key)


async def page_principal(request: Request) -> Principal:
    """Return the signed-in admin of a page, or send the browser to sign in."""
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise SignInRequired(path)
    try:
        principal = await verify_credential(request, cookie)
    except HTTPException as exc:
        if exc.status_code != status.HTTP_401_UNAUTHORIZED:
            raise
        reason = "expired" if "expired" in str(exc.detail) else "invalid"
        raise SignInRequired(path, reason) from None
    if not principal.is_admin:
        raise SignInRequired(path, "not-admin")
    request.app.state.rate_limiter.check(principal.rate_key)
    return principal


def session_credential(request: Request, credential: str, principal: Principal) -> str:
    """Return what the session cookie keeps: the credential, or in local mode a fresh token.

    In local mode the server holds the signing secret, so the local admin (who may have
    come through a short-lived link) gets a token for the whole session.
    """
    settings = request.app.state.settings
    secret = request.app.state.token_verifier.secret
    local = settings.jwt_secret is None and secret is not None
    if local and principal.method == "jwt" and principal.subject == LOCAL_ADMIN:
        return local_admin_token(settings, secret, timedelta(hours=SESSION_HOURS))
    return credential


def _max_age(credential: str) -> int:
    """Return the cookie's lifetime: the session's, cut short by the token's own expiry."""
    limit = SESSION_HOURS * 3600
    token, _ = credential_kind(credential)
    if token is None:
        return limit
    # Already verified; read `exp` only.
    claims = jwt.decode(token, options={"verify_signature": False})
    left = int(claims["exp"] - datetime.now(UTC).timestamp())
    return max(1, min(limit, left))


def csrf_token(request: Request) -> str:
    """Return the browser's CSRF token, or a new one (set it with ``set_csrf_cookie``)."""
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)


def set_csrf_cookie(request: Request, response: Response, token: str) -> None:
    """Store the CSRF token in a cookie the page's script can echo (not HttpOnly on purpose)."""
    if request.cookies.get(CSRF_COOKIE) != token:
        _set(request, response, CSRF_COOKIE, token, http_only=False, max_age=None)


def start_session(request: Request, response: Response, credential: str) -> None:
    """Set the session cookie (HttpOnly) and a fresh CSRF token."""
    _set(
        request,
        response,
        SESSION_COOKIE,
        credential,
        http_only=True,
        max_age=_max_age(credential),
    )
    _set(request, response, CSRF_COOKIE, secrets.token_urlsafe(32), http_only=False, max_age=None)


def end_session(request: Request, response: Response) -> None:
    """Clear the session and CSRF cookies."""
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(
            name, path="/", secure=request.url.scheme == "https", httponly=True, samesite="strict"
        )


def _set(
    request: Request,
    response: Response,
    name: str,
    value: str,
    *,
    http_only: bool,
    max_age: int | None,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=request.url.scheme == "https",
        httponly=http_only,
        samesite="strict",
    )
