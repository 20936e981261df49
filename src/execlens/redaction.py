"""Keep API keys, JWTs and provider keys out of logs and error messages."""

import logging
import re
from collections.abc import Iterable

from pydantic import SecretStr

from execlens.config import Settings

_PATTERNS = [
    (re.compile(r"exl_[A-Za-z0-9_-]{6,}"), "exl_[redacted]"),
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    (re.compile(r"(?i)(bearer\s+)[^\s'\",;]+"), r"\1[redacted]"),
    # The shapes of OpenAI, Anthropic and most OpenAI-compatible providers' keys.
    (re.compile(r"sk-[A-Za-z0-9_-]{16,}"), "sk-[redacted]"),
]
# Shorter configured values (a local server's dummy key "x") would redact ordinary text.
MIN_SECRET_LENGTH = 8
_secrets: set[str] = set()
_installed = False


def register_secrets(values: Iterable[str | SecretStr | None]) -> None:
    """Redact these exact values from now on, wherever they appear."""
    for value in values:
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        if plain and len(plain) >= MIN_SECRET_LENGTH:
            _secrets.add(plain)


def redact(text: str) -> str:
    """Return ``text`` with known secrets and anything shaped like a key or token replaced."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "[redacted]")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep its text, drop the arguments
        message = str(record.msg)
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[1] is not None:
        # Render the traceback now, redacted; formatters print exc_text as it is.
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


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

    def redacting_factory(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(redacting_factory)
    _installed = True
