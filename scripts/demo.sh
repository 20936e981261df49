#!/usr/bin/env bash
# The quick-start job: install execlens into .venv, load the demo dataset into the
# embedded SQLite database and print what was loaded. Extra args go to `execlens demo`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh
.venv/bin/execlens demo "$@"
