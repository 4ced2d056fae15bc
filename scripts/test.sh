#!/usr/bin/env bash
# Quick start 2: install the test tools, Chromium and a Japanese font, and a throw-away
# PostgreSQL 15 (Debian packages, when missing), then lint, type-check and run the whole suite
# on SQLite and PostgreSQL, browser tests included.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv test
scripts/system-deps.sh

pgdir=$(mktemp -d "${TMPDIR:-/tmp}/madoguchi-pg.XXXXXX")
trap 'scripts/pg.sh stop "$pgdir"' EXIT
MADOGUCHI_TEST_PG_URL=$(scripts/pg.sh start "$pgdir")
export MADOGUCHI_TEST_PG_URL
echo "PostgreSQL for the tests: $MADOGUCHI_TEST_PG_URL"

echo "== ruff"
.venv/bin/ruff check core plugins tests migrations bench
.venv/bin/ruff format --check core plugins tests migrations bench
echo "== mypy"
.venv/bin/mypy
echo "== import-linter"
.venv/bin/lint-imports
echo "== pytest"
.venv/bin/pytest "$@"
