#!/usr/bin/env bash
# Fuzz the JSON API from its own OpenAPI document: start uvicorn on a scratch SQLite database
# with demo data and an API token, run schemathesis against /api/openapi.json, and fail on any
# server error (5xx). Usage: scripts/schemathesis.sh [extra schemathesis options]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

SCRATCH=$(mktemp -d)
export SQLITE_PATH="$SCRATCH/db.sqlite3" ROUTERWEB_LOCAL_DIR="$SCRATCH/local" MEDIA_ROOT="$SCRATCH/media"
export DEBUG=true DEMO_CHUNK_DELAY=0 LOG_LEVEL=ERROR
unset DATABASE_URL REDIS_URL CELERY_BROKER_URL || true

UVICORN_PID=""
cleanup() {
  if [ -n "$UVICORN_PID" ]; then kill "$UVICORN_PID" 2>/dev/null || true; wait "$UVICORN_PID" 2>/dev/null || true; fi
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

$PY manage.py migrate --no-input -v 0
$PY manage.py seed_demo --owner admin >/dev/null
TOKEN=$($PY manage.py create_api_token admin --name schemathesis)

PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
$PY -m uvicorn routerweb.asgi:application --host 127.0.0.1 --port "$PORT" --log-level warning --no-access-log &
UVICORN_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null

echo "== schemathesis against http://127.0.0.1:$PORT/api/openapi.json"
# Run from the scratch directory: schemathesis leaves a .schemathesis/ folder in its cwd.
ST="$PWD/.venv/bin/schemathesis"
cd "$SCRATCH"
"$ST" run "http://127.0.0.1:$PORT/api/openapi.json" \
  --checks not_a_server_error \
  -H "Authorization: Bearer $TOKEN" \
  --max-examples 20 \
  --seed "${SCHEMATHESIS_SEED:-1}" \
  --generation-database none \
  "$@"
