"""FastAPI dependencies that require an authenticated principal."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from execlens.api.deps import DatabaseDep, SettingsDep
from execlens.auth.service import AuthenticationError, Principal, api_key_service, verify_jwt

_bearer = HTTPBearer(auto_error=False, description="An admin JWT.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An execlens API key.")


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": "Bearer"}
    )


async def get_principal(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """Return the caller, or answer 401."""
    try:
        if bearer is not None:
            secret = request.app.state.jwt_secret
            if secret is None:
                raise AuthenticationError("JWT sign-in is not configured on this server")
            return verify_jwt(bearer.credentials, secret=secret, settings=settings)
        if api_key:
            async with database.read() as session:
                return await api_key_service.verify(session, api_key)
    except AuthenticationError as exc:
        raise _unauthorized(str(exc)) from exc
    raise _unauthorized("credentials required: send 'Authorization: Bearer <token>' or X-API-Key")


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
