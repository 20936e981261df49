"""FastAPI dependencies that require an authenticated principal."""

import dataclasses
import secrets
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.requests import HTTPConnection
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from execlens.api.deps import DatabaseDep
from execlens.api.errors import error_responses
from execlens.auth.errors import AuthenticationError, KeysUnavailableError
from execlens.auth.service import API_KEY_PREFIX, Principal, api_key_service
from execlens.auth.tokens import TokenVerifier

MAX_USER_ID_LENGTH = 200
# The dashboard keeps the pasted token or API key in this HttpOnly cookie.
SESSION_COOKIE = "execlens_session"
# Double-submit CSRF token: a readable cookie the page echoes in CSRF_HEADER.
CSRF_COOKIE = "execlens_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FAILED = (
    f"CSRF check failed: a request signed in by cookie must send the {CSRF_HEADER} header "
    f"with the value of the {CSRF_COOKIE} cookie; reload the page"
)
ACT_AS_HEADER = "X-Act-As-User-Id"
ACT_AS_ADMINS_ONLY = f"only admins may send {ACT_AS_HEADER}"
# Where AuthenticateFirst leaves the verified principal in the request's state.
PRINCIPAL_STATE = "principal"
# What any route behind these dependencies may answer besides its own responses.
AUTH_ERRORS = error_responses(401, 403, 422, 429, 503)

_bearer = HTTPBearer(auto_error=False, description="An admin JWT.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An execlens API key.")


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": "Bearer"}
    )


async def authenticate(
    request: Request, database: DatabaseDep, bearer: str | None, api_key: str | None
) -> Principal:
    """Return the principal of a bearer token or an API key, or answer 401 (503: no keys)."""
    try:
        if bearer is not None:
            verifier: TokenVerifier = request.app.state.token_verifier
            return await verifier.verify(bearer)
        if api_key:
            async with database.read() as session:
                return await api_key_service.verify(session, api_key)
    except AuthenticationError as exc:
        raise _unauthorized(str(exc)) from None
    except KeysUnavailableError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc), headers={"Retry-After": "30"}
        ) from None
    raise _unauthorized(
        "credentials required: send 'Authorization: Bearer <token>' or X-API-Key, "
        "or sign in to the dashboard at /login"
    )


def credential_kind(credential: str) -> tuple[str | None, str | None]:
    """Split a pasted credential into (bearer token, API key): keys start with exl_."""
    if credential.startswith(API_KEY_PREFIX):
        return None, credential
    return credential, None


def csrf_matches(request: Request, sent: str) -> bool:
    """Return whether ``sent`` (a header or form field) equals the request's CSRF cookie."""
    expected = request.cookies.get(CSRF_COOKIE, "")
    return bool(expected) and secrets.compare_digest(expected.encode(), sent.encode())


@dataclasses.dataclass(frozen=True)
class Credentials:
    """What a request presents: a bearer token or an API key, and whether from the cookie."""

    token: str | None
    api_key: str | None
    from_cookie: bool = False


def credentials_of(
    request: HTTPConnection, bearer: HTTPAuthorizationCredentials | None, api_key: str | None
) -> Credentials:
    """Return the request's credentials: headers first, else the dashboard's session cookie."""
    token = bearer.credentials if bearer is not None else None
    if token or api_key:
        return Credentials(token, api_key)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return Credentials(*credential_kind(cookie), from_cookie=True)
    return Credentials(None, None)


async def authenticate_request(request: Request) -> Principal:
    """Return the principal of the request's credentials without reading its body (401, 503)."""
    credentials = credentials_of(request, await _bearer(request), await _api_key(request))
    return await authenticate(
        request, request.app.state.database, credentials.token, credentials.api_key
    )


async def get_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
    act_as: Annotated[
        str | None,
        Header(
            alias=ACT_AS_HEADER,
            description="Admins only: the user id this request is made on behalf of.",
            # Documented, not enforced by FastAPI: it would answer 422 before 401.
            json_schema_extra={"minLength": 1, "maxLength": MAX_USER_ID_LENGTH, "pattern": r"\S"},
        ),
    ] = None,
) -> Principal:
    """Return the caller, or answer 401; answer 429 when the caller is over its rate limit.

    Headers come first; without them the dashboard's session cookie is used, and then an
    unsafe method must also pass the CSRF check (403), since browsers send cookies along
    with requests other sites make.
    """
    credentials = credentials_of(request, bearer, api_key)
    # AuthenticateFirst verified /api requests before their bodies were read; a route
    # outside /api is verified here.
    principal = getattr(request.state, PRINCIPAL_STATE, None)
    if principal is None:
        principal = await authenticate_request(request)
    if (
        credentials.from_cookie
        and request.method not in SAFE_METHODS
        and not csrf_matches(request, request.headers.get(CSRF_HEADER, ""))
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=CSRF_FAILED)
    request.app.state.rate_limiter.check(principal.rate_key)
    if act_as is None:
        return principal
    # Checked here, after authentication, so an anonymous caller always learns 401 first.
    if not principal.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=ACT_AS_ADMINS_ONLY)
    if not 0 < len(act_as.strip()) <= MAX_USER_ID_LENGTH:
        problem = f"give a user id of 1 to {MAX_USER_ID_LENGTH} characters"
        loc = ("header", ACT_AS_HEADER)
        raise RequestValidationError([{"loc": loc, "msg": problem, "type": "value_error"}])
    return dataclasses.replace(principal, acting_as=act_as.strip())


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_admin(principal: CurrentPrincipal) -> Principal:
    """Return the caller when an admin, or answer 403."""
    if not principal.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="admin role required")
    return principal


def require_ingest(principal: CurrentPrincipal) -> Principal:
    """Return the caller when an admin or an ingest key, or answer 403."""
    if not principal.can_ingest:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="admin role or an API key with scope 'ingest' required",
        )
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]
IngestPrincipal = Annotated[Principal, Depends(require_ingest)]
