#!/usr/bin/env bash
# README command 2: install what the tests need and run them. With CI=true the
# PostgreSQL / Redis / real-worker tests must run (they fail instead of skip).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
extra=()
if [ "${CI:-}" = "true" ]; then extra+=(--create-db); fi
exec .venv/bin/pytest "${extra[@]}" "$@"
