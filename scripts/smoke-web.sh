#!/usr/bin/env bash
# Starts the web container's command (scripts/start-web.sh: migrate, admin, demo, uvicorn) with
# DEBUG off on the given DATABASE_URL / REDIS_URL, as `docker compose up` does, and checks that
# it serves: health, the login page (HTTPS via the proxy header) and its hashed static files.
# Needs STATIC_ROOT from scripts/production-build.sh.
#   PYTHON=.venv/bin/python DATABASE_URL=… REDIS_URL=… STATIC_ROOT=… PORT=8765 bash scripts/smoke-web.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?}" "${STATIC_ROOT:?}"
PORT="${PORT:-8765}"
PYTHON="${PYTHON:-python}"
log="$(mktemp)"
local_dir="$(mktemp -d)"
DEBUG=false HOST=127.0.0.1 PORT="$PORT" WEB_WORKERS=1 ALLOWED_HOSTS=127.0.0.1 \
  SECRET_KEY="smoke-$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(50))')" \
  FIELD_ENCRYPTION_KEY="$("$PYTHON" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
  ROUTERWEB_LOCAL_DIR="$local_dir" PYTHON="$PYTHON" bash scripts/start-web.sh >"$log" 2>&1 &
pid=$!
stop() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$local_dir"; }
trap stop EXIT
base="http://127.0.0.1:$PORT"
for _ in $(seq 1 120); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "start-web.sh exited"; exit 1; }
  sleep 0.5
done
fail() { cat "$log"; echo "smoke: $1"; exit 1; }
curl -fsS "$base/healthz" >/dev/null || fail "no health"
grep -q "Admin login: admin / " "$log" || fail "the first admin's login was not printed"
page="$(curl -fsS -H 'X-Forwarded-Proto: https' "$base/login/")" || fail "login page"
css="$(grep -o '/static/css/app\.[0-9a-f]\{12\}\.css' <<<"$page" | head -n 1)"
[ -n "$css" ] || fail "the login page does not link the hashed stylesheet"
curl -fsS -H 'X-Forwarded-Proto: https' "$base$css" >/dev/null || fail "static file $css"
code="$(curl -s -o /dev/null -w '%{http_code}' "$base/login/")"
[ "$code" = "301" ] || fail "plain HTTP should redirect to HTTPS, got $code"
grep -q Traceback "$log" && fail "traceback in the server log"
echo "web container command serves with DEBUG off: health, login page, hashed static files"
