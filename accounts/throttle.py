"""Login throttling against password guessing.

Failures are counted in the shared cache per username and per client address; past the limit,
further attempts are refused for the rest of the window without even checking the password
(so a correct guess during a lock-out does not reveal itself).
"""

from __future__ import annotations

import contextlib
import hashlib
import unicodedata

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.http import HttpRequest

_PREFIX = "routerweb:loginfail:"


def client_address(request: HttpRequest) -> str:
    # Behind the compose stack's proxy, SecurityMiddleware/uvicorn's --proxy-headers already
    # resolved REMOTE_ADDR; we do not trust X-Forwarded-For ourselves.
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def throttle_username(username: str) -> str:
    """One key for every spelling that logs in as the same person: the login form applies
    NFKC (fullwidth "ｂｏｂ" is "bob"), and case variants must not get fresh attempts."""
    return unicodedata.normalize("NFKC", username).casefold().strip()


def _keys(username: str, address: str) -> list[str]:
    user_key = hashlib.sha256(throttle_username(username).encode()).hexdigest()[:32]
    return [f"{_PREFIX}u:{user_key}", f"{_PREFIX}a:{address}"]


def is_locked(username: str, address: str) -> bool:
    try:
        counts = cache.get_many(_keys(username, address))
    except Exception:
        return False
    return any(int(v) >= settings.LOGIN_FAILURE_LIMIT for v in counts.values())


def record_failure(username: str, address: str) -> None:
    # A cache outage must not turn into a login outage: throttling is best effort.
    for key in _keys(username, address):
        with contextlib.suppress(Exception):
            if not cache.add(key, 1, settings.LOGIN_FAILURE_WINDOW):
                cache.incr(key)


def clear_failures(username: str, address: str) -> None:
    with contextlib.suppress(Exception):
        cache.delete(_keys(username, address)[0])


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": "Too many failed attempts. Try again in %(minutes)d minutes.",
    }

    def clean(self):
        username = self.data.get("username", "")
        address = client_address(self.request) if self.request else "unknown"
        if is_locked(username, address):
            raise forms.ValidationError(
                self.error_messages["locked"],
                code="locked",
                params={"minutes": max(1, settings.LOGIN_FAILURE_WINDOW // 60)},
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            record_failure(username, address)
            raise
        clear_failures(username, address)
        return cleaned
