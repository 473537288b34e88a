#!/usr/bin/env bash
# README command 1: install everything and start the whole studio on the
# embedded default (SQLite, filesystem broker, demo provider): a Celery worker
# with beat in the background and the web server in the foreground.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py seed_demo
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
# The address programs reach this server at (the demo provider's callbacks, webhook
# links): this server's, unless the environment or .env says otherwise.
if [ -z "${MIRSAM_SITE_URL:-}" ] && ! grep -qs '^MIRSAM_SITE_URL=' .env; then
    export MIRSAM_SITE_URL="http://$HOST:$PORT"
fi
# One worker for every queue here; production runs one per queue (README "Queues and rate limits").
QUEUES=$(.venv/bin/python manage.py shell --no-imports -c "from generation.queues import all_queues; print(','.join(all_queues()))")
.venv/bin/celery -A config worker -B -P solo -Q "$QUEUES" --loglevel=INFO &
worker=$!
trap 'kill $worker 2>/dev/null; wait $worker 2>/dev/null' EXIT INT TERM
echo "Mirsam: http://$HOST:$PORT/  (Arabic: http://$HOST:$PORT/ar/)"
.venv/bin/python manage.py runserver "$HOST:$PORT"
