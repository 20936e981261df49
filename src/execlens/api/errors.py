"""Turn errors into responses a client can act on, without echoing input or internals."""

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from execlens.errors import UserError, field_path
from execlens.redaction import redact

log = logging.getLogger("execlens.api")


def _path(loc: tuple) -> str:
    return field_path(loc, skip=("body", "query", "path", "header")) or "request"


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    # Keep FastAPI's familiar `detail` list, but drop `input` and `ctx`: they can echo
    # large payloads or secrets back to the caller.
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    first = detail[0] if detail else None
    message = f"{_path(tuple(first['loc']))}: {first['msg']}" if first else "invalid request"
    return JSONResponse(status_code=422, content={"detail": detail, "message": message})


async def _user_error(_: Request, exc: UserError) -> JSONResponse:
    return JSONResponse(status_code=exc.status_code, content={"detail": redact(str(exc))})


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    request_id = uuid.uuid4().hex[:12]
    log.error(
        "unexpected error %s on %s %s: %s",
        request_id,
        request.method,
        request.url.path,
        type(exc).__name__,
        exc_info=exc,
    )
    return JSONResponse(
        status_code=500,
        content={"detail": "internal error; the server log has details", "request_id": request_id},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(UserError, _user_error)
    app.add_exception_handler(Exception, _unexpected_error)
