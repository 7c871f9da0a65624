from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DEBUG")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY="x" * 20 + "-production-secret-key-that-is-long-and-random-0123456789",
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="router.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secrets():
    result = run_manage("check", DEBUG="false", ALLOWED_HOSTS="router.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY and FIELD_ENCRYPTION_KEY must be set" in result.stderr


def test_a_malformed_setting_fails_loudly():
    result = run_manage("check", MAX_MESSAGE_CHARS="lots")
    assert result.returncode != 0
    assert "MAX_MESSAGE_CHARS must be an integer" in result.stderr


def test_secrets_can_come_from_files(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(Fernet.generate_key().decode())
    secret_file = tmp_path / "secret"
    secret_file.write_text("s" * 60)
    result = run_manage(
        "check",
        DEBUG="false",
        ALLOWED_HOSTS="router.example.com",
        SECRET_KEY_FILE=str(secret_file),
        FIELD_ENCRYPTION_KEY_FILE=str(key_file),
    )
    assert result.returncode == 0, result.stderr
