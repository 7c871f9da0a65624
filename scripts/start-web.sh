#!/usr/bin/env bash
# What the web container runs (docker-compose.yml), and what .ci/run starts to prove it: migrate,
# create the first admin (printed once), load the demo, then serve with uvicorn.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
"$PYTHON" manage.py migrate --no-input
"$PYTHON" manage.py ensure_admin
"$PYTHON" manage.py seed_demo
# Prometheus multiprocess mode: the uvicorn workers count into files in one directory, which
# must start empty, and /metrics (served by any worker) sums them (routerweb/observability.py).
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$(mktemp -d)}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
exec "$PYTHON" -m uvicorn routerweb.asgi:application --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" \
  --proxy-headers --workers "${WEB_WORKERS:-2}"
