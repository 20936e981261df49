#!/usr/bin/env bash
# Install the dev dependencies, start the services the tests need, run lint and the suite.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh dev

# PostgreSQL: tests run every storage test on it too. Use EXECLENS_TEST_POSTGRES_URL when
# given; otherwise start the machine's PostgreSQL cluster and create the test role and database.
if [[ -z "${EXECLENS_TEST_POSTGRES_URL:-}" ]]; then
  bash scripts/postgres.sh
fi

# Chromium for the dashboard's end-to-end tests (Debian's package; never `playwright install`).
if ! command -v chromium >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/lint-imports
.venv/bin/mypy
.venv/bin/pytest "$@"
