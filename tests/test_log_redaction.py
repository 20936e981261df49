"""Redacted log records keep their shape: every line is still written, with secrets masked."""

import logging
import os
import subprocess
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import httpx2
import pytest

from execlens.config import Settings
from execlens.redaction import install_log_redaction, redact, register_secrets
from tests.local_server import serve_process

TOKEN_SHAPED = "exl_aaaaaaaaaa"


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`execlens serve` as a real process (uvicorn's own logging setup); yields (base, process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXECLENS_")}
    env |= {
        "EXECLENS_DATA_DIR": str(tmp_path / "data"),
        "EXECLENS_SERVE_WORKER": "false",
        "EXECLENS_LOCAL_MODEL_ENABLED": "false",
    }
    with serve_process(env) as served:
        yield served


def test_a_token_in_the_url_is_masked_and_the_access_line_still_written(served):
    base, process = served
    assert httpx2.get(f"{base}/healthz", params={"q": TOKEN_SHAPED}).status_code == 200
    # Also an HTTP method that makes the request line look like "Bearer <value>".
    assert httpx2.request("BEARER", f"{base}/healthz?x=1").status_code == 405
    process.terminate()
    output = process.communicate(timeout=15)[0]

    assert "Logging error" not in output, output[-3000:]
    assert TOKEN_SHAPED not in output
    masked = [line for line in output.splitlines() if "/healthz?q=" in line]
    assert len(masked) == 1, output[-3000:]
    assert "127.0.0.1:" in masked[0]
    assert '"GET /healthz?q=exl_[redacted] HTTP/1.1" 200 OK' in masked[0]
    odd = [line for line in output.splitlines() if 'HTTP/1.1" 405' in line]
    assert len(odd) == 1, output[-3000:]
    assert "127.0.0.1:" in odd[0]
    assert '"[redacted] /healthz?x=1 HTTP/1.1" 405' in odd[0]


def test_arguments_are_masked_in_place_keeping_their_number_and_types(tmp_path):
    install_log_redaction(Settings(data_dir=tmp_path))
    logger = logging.getLogger("execlens.test")
    record = logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, "%s %s %d", (TOKEN_SHAPED, "plain", 7), None
    )
    assert record.args == ("exl_[redacted]", "plain", 7)
    assert record.getMessage() == "exl_[redacted] plain 7"

    split = logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, "Authorization: Bearer %s", ("opaque-1",), None
    )
    assert split.args == ("[redacted]",)
    assert split.getMessage() == "Authorization: Bearer [redacted]"


def test_a_registered_secret_is_masked_also_when_percent_encoded():
    secret = "p@ss/word+key=1"
    register_secrets([secret])

    line = redact(
        f"GET https://proxy.example/v1?key={quote(secret, safe='')}&q={quote_plus(secret)}"
    )

    assert "p%40ss" not in line
    assert "word" not in line
    assert "proxy.example" in line


def test_a_password_in_a_connection_url_is_masked_keeping_user_and_host():
    line = redact("could not connect to postgresql://autogpt:hunter2-hunter2@db.internal:5432/x")

    assert "hunter2" not in line
    assert "postgresql://autogpt:[redacted]@db.internal:5432/x" in line
    masked = "AutoGPT's database at postgresql://agpt:***@127.0.0.1:9/db"
    assert redact(masked) == masked
