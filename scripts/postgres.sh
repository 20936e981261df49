#!/usr/bin/env bash
# Start the local PostgreSQL 15 cluster and create the role and database the tests use.
# Idempotent. PostgreSQL refuses to run as root, so it runs as the postgres user.
set -euo pipefail

if ! command -v pg_ctlcluster >/dev/null; then
  echo "PostgreSQL is not installed: install postgresql-15, or set EXECLENS_TEST_POSTGRES_URL" >&2
  exit 1
fi
if ! pg_lsclusters -h | awk '$1 == 15 && $2 == "main" {print $4}' | grep -q online; then
  pg_ctlcluster 15 main start
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 0.5
done

as_postgres() { runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qtA "$@"; }
if [[ -z "$(as_postgres -c "SELECT 1 FROM pg_roles WHERE rolname = 'execlens'")" ]]; then
  as_postgres -c "CREATE ROLE execlens LOGIN PASSWORD 'execlens'"
fi
for db in execlens_test execlens_bench; do
  if [[ -z "$(as_postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]]; then
    as_postgres -c "CREATE DATABASE $db OWNER execlens"
  fi
done
