"""Check credentials before a request body is read, and limit anonymous callers per address."""

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from execlens.auth.deps import PRINCIPAL_STATE, authenticate_request
from execlens.auth.service import Principal

# Public pages that verify what anonymous callers paste: counted per client address.
SIGN_IN_PATHS = frozenset({"/login", "/logout"})


class AuthenticateFirst:
    """Answer 401 to an API request without valid credentials before its body is read.

    FastAPI reads and parses a body before it runs any dependency, so an anonymous upload
    would otherwise be buffered and parsed first. Requests without valid credentials count
    against their client address (429 beyond the rate limit); valid ones go on to the
    endpoints, which still check role, scope and CSRF.
    """

    def __init__(self, app: ASGIApp, *, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = _route_path(scope) if scope["type"] == "http" else ""
        if not (path.startswith(self.prefix) or path in SIGN_IN_PATHS):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            if path in SIGN_IN_PATHS:
                _count_address(request)
            else:
                setattr(request.state, PRINCIPAL_STATE, await _authenticate(request))
        except Exception as exc:
            response = await _answer(request, exc)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    # Behind a proxy's root path the route is what follows it.
    path: str = scope["path"]
    return path.removeprefix(scope.get("root_path", ""))


async def _authenticate(request: Request) -> Principal:
    try:
        return await authenticate_request(request)
    except HTTPException as exc:
        if exc.status_code == 401:
            _count_address(request)
        raise


def _count_address(request: Request) -> None:
    """Take one request from the client address's bucket, or raise 429."""
    address = request.client.host if request.client else "unknown"
    request.app.state.rate_limiter.check(f"address:{address}")


async def _answer(request: Request, exc: Exception) -> Response:
    """Return the response the app's own exception handlers give ``exc``."""
    handlers = request.app.exception_handlers
    handler = next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)
    if handler is None:
        raise exc
    response: Response = await handler(request, exc)
    return response
