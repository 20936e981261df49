"""FastAPI dependencies that require an authenticated principal."""

import dataclasses
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from execlens.api.deps import DatabaseDep
from execlens.api.errors import error_responses
from execlens.auth.errors import AuthenticationError, KeysUnavailableError
from execlens.auth.service import Principal, api_key_service
from execlens.errors import UserError

MAX_USER_ID_LENGTH = 200
ACT_AS_ADMINS_ONLY = "only admins may send X-Act-As-User-Id"
# What any route behind these dependencies may answer besides its own responses.
AUTH_ERRORS = error_responses(401, 403, 422, 429, 503)

_bearer = HTTPBearer(auto_error=False, description="An admin JWT.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An execlens API key.")


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": "Bearer"}
    )


async def _authenticate(
    request: Request, database: DatabaseDep, bearer: str | None, api_key: str | None
) -> Principal:
    try:
        if bearer is not None:
            return await request.app.state.token_verifier.verify(bearer)
        if api_key:
            async with database.read() as session:
                return await api_key_service.verify(session, api_key)
    except AuthenticationError as exc:
        raise _unauthorized(str(exc)) from None
    except KeysUnavailableError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc), headers={"Retry-After": "30"}
        ) from None
    raise _unauthorized("credentials required: send 'Authorization: Bearer <token>' or X-API-Key")


async def get_principal(
    request: Request,
    database: DatabaseDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
    act_as: Annotated[
        str | None,
        Header(
            alias="X-Act-As-User-Id",
            description="Admins only: the user id this request is made on behalf of.",
            # Documented, not enforced by FastAPI: it would answer 422 before 401.
            json_schema_extra={"minLength": 1, "maxLength": MAX_USER_ID_LENGTH, "pattern": r"\S"},
        ),
    ] = None,
) -> Principal:
    """Return the caller, or answer 401; answer 429 when the caller is over its rate limit."""
    credentials = bearer.credentials if bearer is not None else None
    principal = await _authenticate(request, database, credentials, api_key)
    request.app.state.rate_limiter.check(principal.rate_key)
    if act_as is None:
        return principal
    # Checked here, after authentication, so an anonymous caller always learns 401 first.
    if not principal.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=ACT_AS_ADMINS_ONLY)
    if not 0 < len(act_as.strip()) <= MAX_USER_ID_LENGTH:
        raise UserError(f"X-Act-As-User-Id: give a user id of 1 to {MAX_USER_ID_LENGTH} characters")
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
