#!/usr/bin/env bash
# ./dev.sh        set up and start routerweb on the embedded default (SQLite, in-process tasks)
# ./dev.sh test   run the test suite (extra arguments go to pytest)
set -euo pipefail
cd "$(dirname "$0")"
. scripts/find-python.sh
ensure_venv

if [ "${1:-}" = "test" ]; then
  shift
  exec .venv/bin/pytest "$@"
fi

.venv/bin/python manage.py migrate --no-input
.venv/bin/python manage.py ensure_admin
.venv/bin/python manage.py seed_demo --owner admin
PORT="${PORT:-8000}"
echo
echo "routerweb is starting on http://127.0.0.1:${PORT}/  (Ctrl+C stops it)"
exec .venv/bin/uvicorn routerweb.asgi:application --host "${HOST:-127.0.0.1}" --port "$PORT"
