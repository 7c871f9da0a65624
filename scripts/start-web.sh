#!/usr/bin/env bash
# What the web container runs (docker-compose.yml), and what .ci/run starts to prove it: migrate,
# create the first admin (printed once), load the demo, then serve with uvicorn.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
"$PYTHON" manage.py migrate --no-input
"$PYTHON" manage.py ensure_admin
"$PYTHON" manage.py seed_demo
exec "$PYTHON" -m uvicorn routerweb.asgi:application --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" \
  --proxy-headers --workers "${WEB_WORKERS:-2}"
