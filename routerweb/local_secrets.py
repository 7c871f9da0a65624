"""Secrets for the embedded default, generated once into a git-ignored file.

With DEBUG on and no secret in the environment, a laptop install should just work: the
first start writes `.local/secrets.json` (mode 0600) and later starts reuse it, so sessions
and encrypted API keys survive restarts. With DEBUG off, settings refuse to start without
real secrets from the environment instead.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path


def load_or_create(path: Path) -> dict[str, str]:
    if path.exists():
        data = json.loads(path.read_text())
        if {"SECRET_KEY", "FIELD_ENCRYPTION_KEY"} <= data.keys():
            return data
    data = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        # A Fernet key is 32 random bytes, url-safe base64 encoded.
        "FIELD_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    return data
