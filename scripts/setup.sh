#!/usr/bin/env bash
# Create the virtualenv and install requirements (idempotent). Sourced by start.sh and test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements-$(cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r "${REQUIREMENTS:-requirements-dev.txt}"
  touch "$stamp"
fi
# Compile the Arabic catalogue when GNU gettext is here; the compiled .mo is
# also committed, so a machine without gettext still has Arabic.
if [ -d locale ] && command -v msgfmt >/dev/null; then
  .venv/bin/python manage.py compilemessages --ignore=.venv -v0
fi
