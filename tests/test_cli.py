"""The CLI end to end: serve, token, apikey, db upgrade, against real processes."""

import os
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from execlens.db.migrate import head_revision
from tests.factories import make_execution
from tests.local_server import serve_process

EXECLENS = [sys.executable, "-m", "execlens"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXECLENS_")}
    return env | {"EXECLENS_DATA_DIR": str(tmp_path / "data")} | extra


def _run(args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        EXECLENS + args, env=env, capture_output=True, text=True, timeout=60, **kwargs
    )


@pytest.fixture
def server(tmp_path):
    """`execlens serve` in local mode on a free port; yields (base_url, env)."""
    env = _env(tmp_path)
    with serve_process(env) as (base, process):
        yield base, env, process


def test_serve_in_local_mode_with_token_and_api_keys(server, tmp_path):
    base, env, _ = server
    assert httpx2.get(f"{base}/api/executions").status_code == 401
    assert httpx2.get(f"{base}/openapi.json").json()["info"]["title"] == "execlens"

    secret = tmp_path / "data" / "jwt_secret"
    assert oct(secret.stat().st_mode & 0o777) == "0o600"

    token = _run(["token", "--admin"], env).stdout.strip()
    admin = {"Authorization": f"Bearer {token}"}
    assert httpx2.get(f"{base}/api/executions", headers=admin).json()["items"] == []

    created = _run(["apikey", "create", "--name", "loader", "--scope", "ingest"], env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("exl_")
    batch = {"executions": [make_execution("e-1")]}
    ingest = httpx2.post(f"{base}/api/executions", json=batch, headers={"X-API-Key": key})
    assert ingest.status_code == 200
    assert httpx2.get(f"{base}/api/executions/e-1", headers=admin).json()["id"] == "e-1"

    listed = _run(["apikey", "list"], env).stdout
    assert "loader" in listed and key not in listed
    key_id = listed.split("│")[1].strip() if "│" in listed else None
    assert key_id
    assert _run(["apikey", "revoke", key_id], env).returncode == 0
    assert httpx2.get(f"{base}/api/executions", headers={"X-API-Key": key}).status_code == 401


def test_db_upgrade_and_bad_settings_are_one_line_errors(tmp_path):
    env = _env(tmp_path)
    done = _run(["db", "upgrade"], env)
    assert done.returncode == 0, done.stderr
    assert f"database at revision {head_revision()}" in done.stdout

    bad = _run(["db", "upgrade"], _env(tmp_path, EXECLENS_DATABASE_URL="mysql://x"))
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("error: EXECLENS_DATABASE_URL:")
    assert "Traceback" not in bad.stderr

    token = _run(["token"], env)
    assert token.returncode == 1
    assert "pass --admin" in token.stderr


def test_serve_prints_a_sign_in_link_that_works_once(server):
    base, _, process = server
    link = next(line for line in process.stdout if "/login?token=" in line)
    url = base + link[link.index("/login?token=") :].split()[0]
    with httpx2.Client() as browser:
        first = browser.get(url)
        assert first.status_code == 303
        assert browser.get(f"{base}/api/graphs").status_code == 200  # the session cookie
    again = httpx2.get(url)
    assert again.status_code == 401
    assert "already used" in again.text
