"""What a span means in either convention: GenAI semantic conventions or OpenInference.

Each function reads one attribute family in a fixed order of preference; the README's
table "Send traces from your agents" lists the same order.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from pydantic_core import from_json

Attributes = Mapping[str, Any]

OPERATION = "gen_ai.operation.name"
OI_KIND = "openinference.span.kind"
# Where each convention puts what a step received and produced, most specific first.
INPUT_KEYS = (
    "gen_ai.input.messages",
    "gen_ai.tool.call.arguments",
    "input.value",
    "gen_ai.prompt",
    "tool_arguments",
    "pydantic_ai.all_messages",
)
OUTPUT_KEYS = (
    "gen_ai.output.messages",
    "gen_ai.tool.call.result",
    "output.value",
    "gen_ai.completion",
    "tool_response",
    "final_result",
)
USER_KEYS = ("user.id", "enduser.id")
AGENT_KEYS = ("gen_ai.agent.id", "gen_ai.agent.name", "agent.name")
# The GenAI target of an operation: the tool, the agent, else the model.
_TARGET_KEYS = {
    "execute_tool": ("gen_ai.tool.name",),
    "invoke_agent": ("gen_ai.agent.name", "gen_ai.agent.id"),
    "create_agent": ("gen_ai.agent.name", "gen_ai.agent.id"),
}
_MODEL_KEYS = ("gen_ai.request.model", "gen_ai.response.model")
_OI_TARGET_KEYS = ("tool.name", "llm.model_name", "agent.name", "embedding.model_name")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ERROR = Status.STATUS_CODE_ERROR


def any_value(value: AnyValue) -> Any:
    """Return an OTLP AnyValue as a JSON-compatible Python value."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def attributes(pairs: "list[KeyValue] | Any") -> dict[str, Any]:
    """Return OTLP key-value pairs as a dict; a repeated key keeps its last value."""
    found = {}
    for pair in pairs:
        value = pair.value
        # Most attributes are strings: a non-empty string_value is one (the field is a oneof).
        found[pair.key] = value.string_value or any_value(value)
    return found


def timestamp(unix_nano: int) -> datetime | None:
    """Return nanoseconds since the epoch as a UTC datetime; 0 (unset) as None."""
    if unix_nano <= 0:
        return None
    # fixed64 nanoseconds end in the year 2554: always a datetime.
    return _EPOCH + timedelta(microseconds=unix_nano // 1000)


def utc_text(unix_nano: int) -> str | None:
    """Return ``timestamp`` as stored: UTC text "YYYY-MM-DD HH:MM:SS.ffffff"; 0 as None."""
    if unix_nano <= 0:
        return None
    seconds, nanos = divmod(unix_nano, 1_000_000_000)
    return f"{_utc_second(seconds)}.{nanos // 1000:06d}"


@lru_cache(maxsize=4096)
def _utc_second(seconds: int) -> str:
    # The spans of a trace mostly share their seconds: each is formatted once.
    return (_EPOCH + timedelta(seconds=seconds)).isoformat(" ")[:19]


def storable(text: str) -> str:
    """Return text without NUL characters (raw or JSON-escaped), which PostgreSQL refuses."""
    if "\x00" in text or "\\u0000" in text:
        return text.replace("\x00", "\ufffd").replace("\\u0000", "\\ufffd")
    return text


def agent_name(attrs: Attributes) -> str | None:
    """Return the agent id or name a span's attributes state, if any."""
    return _first_text(attrs, AGENT_KEYS)


def _first_text(attrs: Attributes, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = attrs.get(key)
        if value is None:
            continue
        text = value.strip() if isinstance(value, str) else _number_text(value)
        if text:
            return text
    return None


def _number_text(value: Any) -> str | None:
    return str(value) if isinstance(value, int | float) else None


def block_name(span_name: str, attrs: Attributes) -> str:
    """Return the block a span ran: its operation and tool, agent or model."""
    operation = attrs.get(OPERATION)
    if isinstance(operation, str) and operation:
        target = _first_text(attrs, _TARGET_KEYS.get(operation, ()) + _MODEL_KEYS)
        return f"{operation} {target}" if target else operation
    kind = attrs.get(OI_KIND)
    if isinstance(kind, str) and kind:
        target = _first_text(attrs, _OI_TARGET_KEYS) or span_name
        return f"{kind} {target}"
    return span_name or "span"


def parsed(value: Any) -> Any:
    """Return JSON text as the value it encodes; anything else, or text that is not, as is.

    Text with lone surrogates ("\\udfff"), which no database can store, stays text.
    """
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return from_json(value)
        except ValueError:
            return value
    return value


def first_value(attrs: Attributes, keys: tuple[str, ...]) -> Any:
    """Return the first of ``keys`` a span carries (as sent), else None."""
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def user_of(attrs: Attributes) -> str | None:
    """Return the user a span or resource names, if any."""
    return _first_text(attrs, USER_KEYS)


@dataclass(frozen=True)
class SpanError:
    """Whether a span failed, and what its status and exception events say."""

    failed: bool
    message: str | None


def error_of(span: Span, attrs: Attributes) -> SpanError:
    """Return a span's error from its status, its exception events and ``error.type``."""
    status = span.status
    failed = status.code == _ERROR
    if not failed and not status.message and not span.events:
        return _NO_ERROR
    parts: list[str] = []
    if status.message:
        parts.append(status.message)
    for event in span.events:
        if event.name == "exception":
            found = attributes(event.attributes)
            text = ": ".join(
                str(found[k]) for k in ("exception.type", "exception.message") if found.get(k)
            )
            if text and text not in parts:
                parts.append(text)
    if failed and not parts and attrs.get("error.type"):
        parts.append(str(attrs["error.type"]))
    if failed and not parts:
        parts.append("the span ended with status ERROR")
    return SpanError(failed, "; ".join(parts) if parts else None)


_NO_ERROR = SpanError(False, None)
