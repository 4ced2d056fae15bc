#!/usr/bin/env bash
# Quick start 1: install, create and migrate var/madoguchi.db (SQLite), load the example
# tenants, and serve on http://127.0.0.1:8000. Extra arguments go to `madoguchi serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv
exec .venv/bin/madoguchi serve --demo "$@"
