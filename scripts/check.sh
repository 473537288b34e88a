#!/usr/bin/env bash
# The static gates CI runs before the tests: lint, formatting and types.
# Any finding fails (exit non-zero). Installs the environment first, like test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
status=0
echo "== ruff check"; .venv/bin/ruff check . || status=1
echo "== ruff format --check"; .venv/bin/ruff format --check . || status=1
echo "== mypy"; .venv/bin/mypy || status=1
exit "$status"
