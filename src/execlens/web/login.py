"""Sign-in and sign-out pages."""

from datetime import timedelta
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import RedirectResponse, Response

from execlens.auth.deps import SESSION_COOKIE, csrf_matches
from execlens.auth.errors import AuthenticationError
from execlens.auth.links import redeem_link
from execlens.auth.service import local_admin_token
from execlens.web.render import render
from execlens.web.session import (
    SESSION_HOURS,
    SIGN_IN_REASONS,
    end_session,
    safe_next,
    session_credential,
    start_session,
    verify_credential,
)

router = APIRouter(include_in_schema=False)

MAX_CREDENTIAL_CHARS = 16_384
CSRF_FORM_FAILED = "The form expired or came from another site; sign in again."
MAX_FORM_FIELDS = 10
FORM_TOO_LARGE = (
    f"The form has more than {MAX_FORM_FIELDS} fields; send only credential, csrf and next."
)


MAX_FORM_BYTES = 64 * 1024
FORM_BYTES_TOO_LARGE = (
    "The form is larger than 64 KiB; no credential is that long. Paste only the token or key."
)


class FormTooLarge(Exception):
    """A posted form has more fields than any of ours."""


class FormBodyTooLarge(Exception):
    """A posted form is larger than any of ours can be."""


async def _small_body(request: Request) -> bytes:
    """Read the body of an unauthenticated form, stopping at ``MAX_FORM_BYTES``."""
    # The app-wide ceiling (EXECLENS_MAX_BODY_BYTES) is sized for ingest batches; a form
    # anyone can post must not make the server buffer that much.
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormBodyTooLarge
    return body


def _login_page(request: Request, next_path: str, error: str | None, status_code: int) -> Response:
    return render(request, "login.html", next_path=next_path, error=error, status_code=status_code)


async def _sign_in(request: Request, credential: str, next_path: str) -> Response:
    """Verify ``credential``; on success set the session cookie and go to ``next_path``."""
    if not credential or len(credential) > MAX_CREDENTIAL_CHARS:
        return _login_page(request, next_path, "Paste an admin token or API key.", 422)
    try:
        principal = await verify_credential(request, credential)
    except HTTPException as exc:
        if exc.status_code != status.HTTP_401_UNAUTHORIZED:
            raise
        return _login_page(request, next_path, f"Not signed in: {exc.detail}.", 401)
    if not principal.is_admin:
        message = "This credential is valid but not an admin's; the dashboard is for admins."
        return _login_page(request, next_path, message, 403)
    return _signed_in(request, next_path, session_credential(request, credential, principal))


async def _sign_in_with_link(request: Request, token: str, next_path: str) -> Response:
    """Redeem a one-click link (local mode, once) for a local admin session."""
    app = request.app.state
    try:
        async with app.database.write() as session:
            await redeem_link(
                session, app.database.dialect, app.settings, app.token_verifier.secret, token
            )
    except AuthenticationError as exc:
        return _login_page(request, next_path, str(exc), 401)
    secret = app.token_verifier.secret  # set: redeem_link refuses links without one
    credential = local_admin_token(app.settings, secret, timedelta(hours=SESSION_HOURS))
    return _signed_in(request, next_path, credential)


def _signed_in(request: Request, next_path: str, credential: str) -> Response:
    response = RedirectResponse(next_path, status_code=status.HTTP_303_SEE_OTHER)
    # The sign-in URL may hold the token: the next page must not learn it as a referrer.
    response.headers["Referrer-Policy"] = "no-referrer"
    start_session(request, response, credential)
    return response


@router.get("/login")
async def login_page(
    request: Request,
    next: Annotated[str | None, Query(max_length=2000)] = None,
    reason: Annotated[str | None, Query(max_length=300)] = None,
    token: Annotated[str | None, Query(max_length=MAX_CREDENTIAL_CHARS)] = None,
) -> Response:
    """Show the sign-in form; with ``token`` (the serve banner's link) sign in at once."""
    next_path = safe_next(next)
    if token:
        # The redirect takes the token out of the address bar.
        return await _sign_in_with_link(request, token, next_path)
    # Only known codes: any other text in the link is not shown (no phishing aid).
    error = SIGN_IN_REASONS.get(reason or "")
    return _login_page(request, next_path, error, 200)


@router.post("/login")
async def login(request: Request) -> Response:
    """Verify the pasted token or API key and keep it in an HttpOnly cookie."""
    try:
        form = _form(await _small_body(request))
    except FormTooLarge:
        return _login_page(request, "/", FORM_TOO_LARGE, 400)
    except FormBodyTooLarge:
        return _login_page(request, "/", FORM_BYTES_TOO_LARGE, 413)
    next_path = safe_next(form.get("next"))
    if not _form_csrf_valid(request, form):
        return _login_page(request, next_path, CSRF_FORM_FAILED, 403)
    return await _sign_in(request, form.get("credential", "").strip(), next_path)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Clear the session cookie and show the sign-in page."""
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    if SESSION_COOKIE not in request.cookies:
        return response
    try:
        form = _form(await _small_body(request))
    except FormTooLarge:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=FORM_TOO_LARGE) from None
    except FormBodyTooLarge:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, detail=FORM_BYTES_TOO_LARGE
        ) from None
    if not _form_csrf_valid(request, form):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=CSRF_FORM_FAILED)
    end_session(request, response)
    return response


def _form(body: bytes) -> dict[str, str]:
    """Parse a small urlencoded form (python-multipart is not needed for two fields)."""
    try:
        fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # parse_qs refuses more fields than max_num_fields
        raise FormTooLarge from None
    return {name: values[0] for name, values in fields.items()}


def _form_csrf_valid(request: Request, form: dict[str, str]) -> bool:
    # A form cannot set headers, so the token travels as a field: the same double submit.
    return csrf_matches(request, form.get("csrf", ""))
