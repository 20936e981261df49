"""Keep API keys, JWTs and provider keys out of logs and error messages."""

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

from pydantic import SecretStr

from execlens.config import Settings

_PATTERNS = [
    (re.compile(r"exl_[A-Za-z0-9_-]{6,}"), "exl_[redacted]"),
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    (re.compile(r"(?i)(bearer\s+)[^\s'\",;]+"), r"\1[redacted]"),
    # The shapes of OpenAI, Anthropic and most OpenAI-compatible providers' keys.
    (re.compile(r"sk-[A-Za-z0-9_-]{16,}"), "sk-[redacted]"),
    # The password of a connection URL (a database or proxy DSN in a driver's error).
    # A URL already masked as "user:***@" is left as it reads.
    (re.compile(r"(://[^:/@\s]+:)(?!\*\*\*@)[^@\s/]+@"), r"\1[redacted]@"),
]
# Shorter configured values (a local server's dummy key "x") would redact ordinary text.
MIN_SECRET_LENGTH = 8
_secrets: set[str] = set()
_installed = False
# A log record's arguments, as logging.LogRecord.args holds them.
_Args = tuple[object, ...] | Mapping[str, object]
K = TypeVar("K")


def register_secrets(values: Iterable[str | SecretStr | None]) -> None:
    """Redact these exact values from now on, wherever they appear."""
    for value in values:
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        if plain and len(plain) >= MIN_SECRET_LENGTH:
            # A secret in a URL or form body appears percent-encoded.
            _secrets.update({plain, quote(plain, safe=""), quote_plus(plain)})


def redact(text: str) -> str:
    """Return ``text`` with known secrets and anything shaped like a key or token replaced."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "[redacted]")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_record(record: logging.LogRecord) -> None:
    if record.args:
        # Formatters may read the arguments themselves (uvicorn's access log unpacks its
        # five), so they are masked in place, keeping their number and types.
        record.args = _redact_args(record.args)
    _redact_message(record)
    if record.exc_info and record.exc_info[1] is not None:
        # Render the traceback now, redacted; formatters print exc_text as it is.
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _redact_message(record: logging.LogRecord) -> None:
    message = _message(record)
    if redact(message) == message:
        return
    args = record.args
    # A secret spans the format and its arguments ("Bearer %s"): hide one text argument,
    # else all of them, so the record keeps its shape.
    for masked in _masked_variants(args) if args else ():
        record.args = masked
        message = _message(record)
        if redact(message) == message:
            return
    # No arguments, or the format string itself holds a secret: keep the redacted text.
    record.msg, record.args = redact(message), ()


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a bad format string: its handler reports it; judge the text alone
        return str(record.msg)


def _redact_args(args: _Args) -> _Args:
    if isinstance(args, Mapping):
        return {key: _redact_arg(value) for key, value in args.items()}
    return tuple(_redact_arg(value) for value in args)


def _masked_variants(args: _Args) -> Iterator[_Args]:
    """Yield ``args`` with one text argument masked, for each in turn, then with all."""
    if isinstance(args, Mapping):
        yield from _masked_items(dict(args))
    else:
        yield from (tuple(masked.values()) for masked in _masked_items(dict(enumerate(args))))


def _masked_items(items: dict[K, object]) -> Iterator[dict[K, object]]:
    texts = [key for key, value in items.items() if isinstance(value, str)]
    for masked_keys in [*([key] for key in texts), texts]:
        yield {k: "[redacted]" if k in masked_keys else v for k, v in items.items()}


def _redact_arg(value: object) -> object:
    """Return ``value``, or its redacted text when its text holds a secret."""
    if isinstance(value, str):
        return redact(value)
    try:
        text = str(value)
    except Exception:  # an object that cannot print itself cannot leak through %s either
        return value
    clean = redact(text)
    return value if clean == text else clean


def install_log_redaction(settings: Settings, extra: Iterable[str | None] = ()) -> None:
    """Redact every log record of this process, from any logger and for any handler."""
    global _installed
    register_secrets(
        [
            settings.jwt_secret,
            settings.openai_api_key,
            settings.anthropic_api_key,
            settings.compatible_api_key,
            *extra,
        ]
    )
    if _installed:
        return
    # A record factory, not a handler filter: it sees every record at creation, so
    # handlers added later (uvicorn's, a test's) cannot receive an unredacted copy.
    make_record = logging.getLogRecordFactory()

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(redacting_factory)
    _installed = True
