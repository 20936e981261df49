"""OTLP/HTTP: POST /v1/traces, as OpenTelemetry exporters send it."""

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from execlens.auth.deps import authenticate_request
from execlens.auth.service import Principal
from execlens.db.dialect import storage_problem
from execlens.otlp.schemas import (
    JSON,
    PERMISSION_DENIED,
    PROTOBUF,
    RESOURCE_EXHAUSTED,
    UNAUTHENTICATED,
    UNAVAILABLE,
    Encoding,
    OtlpError,
    decode_request,
    decompress,
    encoding_of,
    error_body,
    export_response,
)
from execlens.otlp.service import limits_of, otlp_service
from execlens.redaction import redact

log = logging.getLogger(__name__)
router = APIRouter(tags=["otlp"])

_MEDIA = {"protobuf": PROTOBUF, "json": JSON}
_BOTH = {PROTOBUF: {"schema": {"type": "string", "format": "binary"}}, JSON: {"schema": {}}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": meaning, "content": _BOTH}
    for status, meaning in {
        400: "The body cannot be read as an ExportTraceServiceRequest; do not retry.",
        401: "Missing or invalid credentials: send X-API-Key or Authorization.",
        403: "Credentials without the admin role or the ingest scope.",
        413: "The body, once decompressed, is larger than EXECLENS_MAX_BODY_BYTES.",
        415: "Content-Type other than application/x-protobuf or application/json.",
        429: "Over the rate limit; retry after Retry-After.",
        503: "The database is busy or unreachable; retry after Retry-After.",
        507: "The database is out of space; nothing was stored.",
    }.items()
}
_STATUS_CODES = {401: UNAUTHENTICATED, 403: PERMISSION_DENIED, 429: RESOURCE_EXHAUSTED}


def _answer(body: bytes, encoding: Encoding, status: int = 200, **headers: str) -> Response:
    return Response(body, status_code=status, media_type=_MEDIA[encoding], headers=headers)


def _error(error: OtlpError, encoding: Encoding) -> Response:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
    return _answer(error_body(error, encoding), encoding, error.status_code, **headers)


async def _authenticated(request: Request) -> Principal:
    try:
        return await authenticate_request(request)
    except HTTPException as exc:
        if exc.status_code == 401:
            # As for /api: callers without valid credentials count against their address.
            address = request.client.host if request.client else "unknown"
            request.app.state.rate_limiter.check(f"address:{address}")
        raise


async def _principal(request: Request) -> Principal:
    """Return the caller when it may ingest, or raise the OTLP error (401, 403, 429, 503)."""
    try:
        principal = await _authenticated(request)
        if not principal.can_ingest:
            raise HTTPException(
                403, detail="an admin or an API key with scope 'ingest' is required"
            )
        request.app.state.rate_limiter.check(principal.rate_key)
    except HTTPException as exc:
        retry = exc.headers.get("Retry-After") if exc.headers else None
        raise OtlpError(
            exc.status_code,
            str(exc.detail),
            code=_STATUS_CODES.get(exc.status_code, UNAVAILABLE),
            retry_after=int(retry) if retry else None,
        ) from None
    return principal


@router.post(
    "/v1/traces",
    response_class=Response,
    responses={200: {"description": "ExportTraceServiceResponse", "content": _BOTH}, **_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "An OTLP ExportTraceServiceRequest; gzip Content-Encoding allowed.",
            "content": _BOTH,
        }
    },
)
async def export_traces(request: Request) -> Response:
    """Take OTLP/HTTP spans (protobuf or JSON); finished traces become executions."""
    content_type = request.headers.get("content-type")
    encoding: Encoding = "json" if (content_type or "").startswith(JSON) else "protobuf"
    try:
        await _principal(request)
        encoding = encoding_of(content_type)
        settings = request.app.state.settings
        body = decompress(
            await request.body(),
            request.headers.get("content-encoding"),
            settings.max_body_bytes,
        )
        export = decode_request(body, encoding)
        report = await _ingest(request, export)
    except OtlpError as exc:
        return _error(exc, encoding)
    return _answer(export_response(report.rejected, report.message, encoding), encoding)


async def _ingest(request: Request, export: Any) -> Any:
    database = request.app.state.database
    try:
        async with database.write() as session:
            return await otlp_service.ingest(
                session,
                database.dialect,
                export,
                datetime.now(UTC),
                limits_of(request.app.state.settings),
            )
    except DBAPIError as exc:
        problem = storage_problem(exc)
        if problem is None:
            raise
        log.error("database problem on POST /v1/traces: %s", redact(problem))
        full = "out of space" in problem
        raise OtlpError(
            507 if full else 503,
            problem,
            code=RESOURCE_EXHAUSTED if full else UNAVAILABLE,
            retry_after=None if full else 5,
        ) from None
