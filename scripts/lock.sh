#!/usr/bin/env bash
# Pin the whole dependency tree from pyproject.toml: requirements.lock (the default install,
# with the `local` extra) and requirements-dev.lock (also `dev`); scripts/install.sh
# installs exactly these. Existing pins are kept unless pyproject.toml needs others.
# Usage: bash scripts/lock.sh [--upgrade | --upgrade-package NAME]
set -euo pipefail
cd "$(dirname "$0")/.."

compile() {
  .venv/bin/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 \
    --generate-hashes --override scripts/lock-overrides.txt --no-header "$@"
}
compile --extra local --extra dev -o requirements-dev.lock "${@}"
# The default lock takes the dev lock's versions, so a .venv installed from either
# (scripts/demo.sh after scripts/test.sh, say) never holds two versions of one package.
grep -E '^[A-Za-z0-9._-]+==' requirements-dev.lock | sed 's/ *\\$//' \
  > .lock-constraints.txt
trap 'rm -f .lock-constraints.txt' EXIT
compile --extra local -c .lock-constraints.txt -o requirements.lock "${@}"
