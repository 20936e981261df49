"""Turn errors into responses a client can act on, without echoing input or internals."""

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError

from execlens.db.dialect import storage_problem
from execlens.errors import UserError, field_path
from execlens.redaction import redact

log = logging.getLogger("execlens.api")

_MEANINGS = {
    400: "The body cannot be read as JSON text (it must be UTF-8).",
    401: "Missing or invalid credentials.",
    403: "Valid credentials without the needed role or scope.",
    404: "No such object.",
    409: "The object's state does not allow this, e.g. resuming a completed job.",
    413: "The request body is larger than EXECLENS_MAX_BODY_BYTES.",
    422: "Invalid input; `message` or `detail` names the field and the fix.",
    429: "Over the rate limit; retry after the Retry-After seconds.",
    502: "The LLM provider refused the job's requests; `detail` names the job and the fix.",
    503: "The identity provider's keys cannot be fetched; retry shortly.",
}


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    detail: str | list[ValidationIssue]
    message: str | None = None
    request_id: str | None = None


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return OpenAPI ``responses`` documenting these error statuses."""
    return {s: {"model": ErrorBody, "description": _MEANINGS[s]} for s in statuses}


def _path(loc: tuple[str | int, ...]) -> str:
    return field_path(loc, skip=("body", "query", "path", "header")) or "request"


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    # Keep FastAPI's familiar `detail` list, but drop `input` and `ctx`: they can echo
    # large payloads or secrets back to the caller.
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    first = detail[0] if detail else None
    message = f"{_path(tuple(first['loc']))}: {first['msg']}" if first else "invalid request"
    return JSONResponse(status_code=422, content={"detail": detail, "message": message})


# Set on a request whose route answers 422s as FastAPI's list of field errors.
_FIELD_ERROR_LIST = "field_error_list"


async def _user_error(request: Request, exc: UserError) -> JSONResponse:
    message = redact(str(exc))
    if exc.status_code == 422 and getattr(request.state, _FIELD_ERROR_LIST, False):
        loc = ["body", exc.field] if exc.field else ["body"]
        detail = [{"loc": loc, "msg": message, "type": "value_error"}]
        return JSONResponse(status_code=422, content={"detail": detail, "message": message})
    return JSONResponse(status_code=exc.status_code, content={"detail": message})


def answer_422_as_field_errors(request: Request) -> None:
    """Make a route answer every 422 as FastAPI's list of field errors (its default schema).

    A router dependency: it runs before the route's other dependencies, so their errors
    are answered in that shape too.
    """
    setattr(request.state, _FIELD_ERROR_LIST, True)


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


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    problem = storage_problem(exc)
    if problem is None:
        return await _unexpected_error(request, exc)
    log.error("database problem on %s %s: %s", request.method, request.url.path, problem)
    full = "out of space" in problem
    return JSONResponse(
        status_code=507 if full else 503,
        content={"detail": problem},
        headers={} if full else {"Retry-After": "5"},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    # The decorator form: Starlette types add_exception_handler's handler as taking any
    # Exception, so handlers of one exception class would need a cast.
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(UserError)(_user_error)
    app.exception_handler(DBAPIError)(_database_error)
    # A refused connection surfaces as a bare OSError (asyncpg raises it before SQLAlchemy
    # can wrap it); without this an unreachable database would answer 500.
    app.exception_handler(OSError)(_database_error)
    app.exception_handler(Exception)(_unexpected_error)
