"""The production build as the image runs it: hashed static files, deploy checks, pages served
with DEBUG off from the manifest (what `docker compose up` depends on)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def _production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL")
        and not k.startswith("CELERY_")
    }
    return {
        **base,
        "PYTHON": sys.executable,
        "STATIC_ROOT": str(tmp_path / "static"),
        "ROUTERWEB_LOCAL_DIR": str(tmp_path / "local"),
        **extra,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lower(items) -> dict[str, str]:
    return {k.lower(): v for k, v in items}


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    """GET through the proxy as production sees it (HTTPS); header names lower-cased."""
    request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, _lower(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, _lower(error.headers.items()), error.read()


def test_the_production_build_succeeds_and_pages_render_from_its_manifest(tmp_path):
    env = _production_env(tmp_path)
    build = subprocess.run(
        ["bash", "scripts/production-build.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    assert "no issues" in build.stdout
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
    assert "vendor/swagger-ui/swagger-ui.css" in manifest

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "routerweb.asgi:application", "--port", str(port)],
        cwd=ROOT,
        env={
            **env,
            "DEBUG": "false",
            "SECRET_KEY": "s" * 60,
            "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):  # wait for the server to accept connections (not a timing assertion)
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.05)
        status, _, body = _get(base + "/login/")
        assert status == 200, body.decode(errors="replace")[:2000]
        html = body.decode()
        css = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', html)
        assert css, "the login page links the hashed stylesheet from the manifest"
        status, headers, _ = _get(base + css.group(1))
        assert status == 200
        assert "immutable" in headers.get("cache-control", "")
        # The API docs page uses the vendored swagger files whose source-map comments broke the build.
        status, _, _ = _get(base + "/static/" + manifest["vendor/swagger-ui/swagger-ui.css"])
        assert status == 200
        # /v1 has its own handler: the same HTTPS redirect and headers as the pages.
        status, headers, _ = _get(base + "/v1/models")
        assert status == 401
        assert headers["strict-transport-security"].startswith("max-age=")
        assert headers["x-content-type-options"] == "nosniff"

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(base + "/v1/models", timeout=10)
        except urllib.error.HTTPError as error:
            assert error.code == 301 and error.headers["Location"].startswith("https://")
        else:
            raise AssertionError("plain HTTP to /v1 was not redirected")
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "Traceback" not in output, output
