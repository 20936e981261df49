"""OTLP/HTTP on the wire: decode trace export requests, encode responses and errors."""

import base64
import json
import zlib
from collections.abc import Iterable
from typing import Any, Literal

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
Encoding = Literal["protobuf", "json"]
# gRPC status codes carried in the Status body of an error response.
INVALID_ARGUMENT = 3
UNAUTHENTICATED = 16
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
UNAVAILABLE = 14
# OTLP/JSON writes these bytes fields as hex, where protobuf's JSON mapping uses base64.
_HEX_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


class OtlpError(Exception):
    """A request OTLP answers with an error status and a Status body naming the fix."""

    def __init__(
        self, status_code: int, message: str, *, code: int, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.code = code
        self.retry_after = retry_after


def bad_request(message: str) -> OtlpError:
    """Return the error of a body that cannot be read (400: the exporter must not retry)."""
    return OtlpError(400, message, code=INVALID_ARGUMENT)


def encoding_of(content_type: str | None) -> Encoding:
    """Return the encoding a Content-Type names, or raise 415 naming the accepted ones."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == PROTOBUF:
        return "protobuf"
    if media == JSON:
        return "json"
    raise OtlpError(
        415,
        f"Content-Type {media or '(none)'!r} is not OTLP/HTTP: send {PROTOBUF} or {JSON}",
        code=INVALID_ARGUMENT,
    )


def decompress(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """Return the body without its gzip Content-Encoding, at most ``max_bytes`` (else 413)."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding != "gzip":
        raise OtlpError(
            415,
            f"Content-Encoding {encoding!r} is not supported: send gzip or no encoding",
            code=INVALID_ARGUMENT,
        )
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise bad_request(f"the body is not valid gzip ({exc})") from None
    if len(data) > max_bytes:
        raise OtlpError(
            413,
            f"the body is larger than {max_bytes} bytes once decompressed "
            "(EXECLENS_MAX_BODY_BYTES); export smaller batches",
            code=RESOURCE_EXHAUSTED,
        )
    if not inflater.eof:
        raise bad_request("the gzip body ends early; send the whole body")
    return data


def decode_request(body: bytes, encoding: Encoding) -> ExportTraceServiceRequest:
    """Return the ExportTraceServiceRequest in ``body``, or raise 400 saying what is wrong."""
    request = ExportTraceServiceRequest()
    if encoding == "protobuf":
        try:
            request.ParseFromString(body)
        except DecodeError:
            raise bad_request(
                "the body is not a protobuf ExportTraceServiceRequest; send what an OTLP "
                "exporter sends (opentelemetry-proto), or use application/json"
            ) from None
        return request
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise bad_request(f"the body is not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise bad_request("the body must be a JSON object with resourceSpans")
    try:
        _hex_ids_to_base64(document)
        # Receivers must ignore fields they do not know (OTLP/JSON).
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    # ParseDict raises more than ParseError on some wrongly typed values.
    except (json_format.ParseError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise bad_request(
            f"the body is not an OTLP/JSON ExportTraceServiceRequest: {exc}"
        ) from None
    return request


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    for r_index, resource_spans in enumerate(_items(document, "resourceSpans", "resource_spans")):
        for s_index, scope_spans in enumerate(_items(resource_spans, "scopeSpans", "scope_spans")):
            for index, span in enumerate(_items(scope_spans, "spans")):
                where = f"resourceSpans[{r_index}].scopeSpans[{s_index}].spans[{index}]"
                _convert_ids(span, where)
                for l_index, link in enumerate(_items(span, "links")):
                    _convert_ids(link, f"{where}.links[{l_index}]")


def _items(parent: object, *keys: str) -> list[Any]:
    if not isinstance(parent, dict):
        return []
    for key in keys:
        value = parent.get(key)
        if isinstance(value, list):
            return value
    return []


def _convert_ids(item: object, where: str) -> None:
    if not isinstance(item, dict):
        return
    for key in _HEX_ID_FIELDS:
        value = item.get(key)
        if isinstance(value, str) and value:
            try:
                item[key] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError:
                raise bad_request(
                    f"{where}.{key}: {value[:40]!r} is not hex; OTLP/JSON writes ids as hex"
                ) from None


def encode(message: Message, encoding: Encoding) -> bytes:
    """Return ``message`` in the request's encoding (OTLP/JSON: lowerCamelCase fields)."""
    if encoding == "protobuf":
        data: bytes = message.SerializeToString()
        return data
    return json.dumps(json_format.MessageToDict(message)).encode()


def export_response(rejected: int, message: str, encoding: Encoding) -> bytes:
    """Return the ExportTraceServiceResponse, with partial_success when set."""
    response = ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    return encode(response, encoding)


def error_body(error: OtlpError, encoding: Encoding) -> bytes:
    """Return the google.rpc.Status body of an error response."""
    return encode(Status(code=error.code, message=error.message), encoding)


_NO_TRACE = bytes(16)
_NO_SPAN = bytes(8)
# The tag of ScopeSpans' field 2 (repeated Span): field number 2, length-delimited.
_SPANS_TAG = b"\x12"


def valid_ids(trace_id: bytes, span_id: bytes, parent_span_id: bytes) -> bool:
    """Return whether a span's ids are 16 and 8 bytes, not all zero (else the span is invalid)."""
    return (
        len(trace_id) == 16
        and len(span_id) == 8
        and len(parent_span_id) in (0, 8)
        and trace_id != _NO_TRACE
        and span_id != _NO_SPAN
    )


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def scope_spans_bytes(spans: Iterable[bytes]) -> bytes:
    """Return serialized spans as one serialized ``ScopeSpans`` holding them, in order.

    Protobuf encodes a repeated message field as its elements one after the other, each
    tagged and length-prefixed: joining the bytes costs nothing like copying the messages.
    """
    return b"".join(_SPANS_TAG + _varint(len(span)) + span for span in spans)
