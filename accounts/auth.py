"""Authentication for the JSON API: a bearer token, or the browser session with CSRF.

The bearer check runs first: a script sending a token never needs a CSRF token, even when
its HTTP client also happens to carry a session cookie. A session-authenticated write
without a valid CSRF token is refused (403) by ninja's cookie auth.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from accounts.tokens import api_token_authenticate


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = api_token_authenticate(token)
        if user is not None:
            # Code shared with the HTML views reads request.user.
            request.user = user
        return user


class SessionWithCsrfAuth(SessionAuth):
    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = request.user
        if user.is_authenticated and user.is_active:
            return user
        return None


bearer_auth = BearerTokenAuth()
session_auth = SessionWithCsrfAuth(csrf=True)
api_auth = [bearer_auth, session_auth]


def bearer_token_from(request: HttpRequest) -> str | None:
    """The token of an `Authorization: Bearer …` header, if there is one."""
    # From META, as `request.headers` would read it: building that mapping of every header
    # costs more than the rest of this lookup on each gateway call.
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
