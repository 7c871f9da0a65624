#!/usr/bin/env bash
# The production build steps, run by the Dockerfile and by .ci/run alike so CI proves what the
# image does: collect static files into a hashed manifest (DEBUG off, as served by WhiteNoise)
# and run Django's deploy checks with production settings.
#   PYTHON=.venv/bin/python STATIC_ROOT=/tmp/static bash scripts/production-build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
# Throwaway values: settings need secrets to load, and these are used only at build time.
export DEBUG=0
SECRET_KEY="build-only-$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(50))')"
FIELD_ENCRYPTION_KEY="$("$PYTHON" -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"
export SECRET_KEY FIELD_ENCRYPTION_KEY
export ALLOWED_HOSTS="${ALLOWED_HOSTS:-localhost}"
"$PYTHON" manage.py collectstatic --no-input --verbosity 1
"$PYTHON" manage.py check --deploy --fail-level WARNING
