"""API tokens: create (plaintext shown once), revoke, authenticate.

Tokens are `rw_` + 32 random URL-safe bytes. Only their SHA-256 is stored, so a database
leak gives no usable token, and the lookup is by hash: an attacker timing our comparison
learns about a hash of their guess, never about a stored token's characters.

Authentication is on the hot path of every `/v1` call, so a verified token is remembered in
process memory for a few seconds (`_AUTH_CACHE_SECONDS`), filed under the *auth version*: a
random token in the shared cache that revoking a token, deactivating a person or changing a
role replaces (at once and again on commit, like the routing config version). Every lookup
reads the version (one Redis GET, no thread hop), so a revocation in any process stops the
token in every process on its next call. When the shared cache cannot be read, nothing cached
is trusted: the token is checked against the database (fail safe, not fail open).
`last_used_at` is written at most once a minute per token, so a busy client does not turn
every call into a write.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save
from django.http import Http404
from django.utils import timezone

from accounts.models import ApiToken, User
from routerweb import clock as clocks
from routerweb import shared_cache
from routerweb.db import run_db

log = logging.getLogger(__name__)

TOKEN_PREFIX = "rw_"
SHOWN_PREFIX_CHARS = 8
LAST_USED_EVERY = timedelta(minutes=1)
_AUTH_CACHE_SECONDS = 5.0
_AUTH_CACHE_SIZE = 1024
AUTH_VERSION_KEY = "auth-version"


@dataclass
class _Entry:
    token_id: int
    user: User
    groups: tuple[str, ...]
    last_used_at: float  # epoch seconds of the stored value (0: never)
    expires: float
    version: str  # the auth version it was loaded under


_cache: dict[str, _Entry] = {}
_lock = threading.Lock()


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def api_token_list_for_user(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def api_token_get_for_user(*, user: User, pk: int) -> ApiToken:
    token = api_token_list_for_user(user=user).filter(pk=pk).first()
    if token is None:
        raise Http404("No such token.")
    return token


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Store a new token's hash; return the row and the plaintext (never stored, shown once)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": 'Name the token after where it is used ("laptop", "CI").'})
    if len(name) > 100:
        raise ValidationError({"name": "Use at most 100 characters."})
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=plaintext[:SHOWN_PREFIX_CHARS],
        token_hash=hash_token(plaintext),
    )
    return token, plaintext


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    auth_version_bump()
    return token


def clear_auth_cache() -> None:
    with _lock:
        _cache.clear()


def auth_version_bump() -> None:
    """Who may use which token changed: every process drops its verified tokens. Replaced now
    and again on commit, so a lookup racing the change cannot file stale rows under the new
    version."""
    clear_auth_cache()
    _replace_version()
    transaction.on_commit(_replace_version)


def _replace_version() -> None:
    clear_auth_cache()
    try:
        shared_cache.set_now(AUTH_VERSION_KEY, uuid.uuid4().hex)
    except Exception:  # lookups cannot read it either, so they go to the database
        log.warning("auth version: shared cache unavailable", exc_info=True)


def _version_now() -> str:
    """The current auth version, or "" (trust no cached entry) when the cache is down."""
    try:
        version = shared_cache.get_now(AUTH_VERSION_KEY)
        if version is None:
            shared_cache.add_now(AUTH_VERSION_KEY, uuid.uuid4().hex)
            version = shared_cache.get_now(AUTH_VERSION_KEY)
    except Exception:
        log.warning("auth version: shared cache unavailable", exc_info=True)
        return ""
    return version or ""


async def _aversion() -> str:
    try:
        version = await shared_cache.get(AUTH_VERSION_KEY)
        if version is None:
            await shared_cache.add(AUTH_VERSION_KEY, uuid.uuid4().hex, None)
            version = await shared_cache.get(AUTH_VERSION_KEY)
    except Exception:
        log.warning("auth version: shared cache unavailable", exc_info=True)
        return ""
    return version or ""


def _looks_like_token(plaintext: str | None) -> bool:
    # Cheap rejection of garbage before hashing or touching the database.
    return bool(plaintext and plaintext.startswith(TOKEN_PREFIX) and len(plaintext) < 200)


def _cached(token_hash: str, version: str) -> _Entry | None:
    if not version:
        return None
    now = clocks.current().monotonic()
    with _lock:
        entry = _cache.get(token_hash)
        if entry is not None and (entry.expires < now or entry.version != version):
            del _cache[token_hash]
            entry = None
    return entry


def _load(token_hash: str, version: str) -> _Entry | None:
    token = (
        ApiToken.objects.filter(token_hash=token_hash, revoked_at__isnull=True)
        .select_related("user")
        .first()
    )
    # The index lookup found it; compare anyway in constant time so the check never
    # depends on how the database compares strings (collations, trailing spaces).
    if (
        token is None
        or not hmac.compare_digest(token.token_hash, token_hash)
        or not token.user.is_active
    ):
        return None
    user = token.user
    entry = _Entry(
        token_id=token.pk,
        user=user,
        groups=tuple(user.groups.values_list("name", flat=True)),
        last_used_at=token.last_used_at.timestamp() if token.last_used_at else 0.0,
        expires=clocks.current().monotonic() + _AUTH_CACHE_SECONDS,
        version=version,
    )
    if version:
        with _lock:
            if len(_cache) >= _AUTH_CACHE_SIZE:
                _cache.clear()
            _cache[token_hash] = entry
    return entry


def _touch(entry: _Entry) -> None:
    now = timezone.now()
    # Conditional update: several processes racing on the same minute write once. It is
    # bookkeeping: a busy database (SQLite's "table is locked" while the decision log writes)
    # must not fail the call it annotates; a later call tries again.
    try:
        ApiToken.objects.filter(pk=entry.token_id).exclude(
            last_used_at__gt=now - LAST_USED_EVERY
        ).update(last_used_at=now)
    except DatabaseError as error:
        log.warning("token %s: last-used time not recorded (%s)", entry.token_id, error)
        return
    entry.last_used_at = now.timestamp()


def _needs_touch(entry: _Entry) -> bool:
    return clocks.current().time() - entry.last_used_at >= LAST_USED_EVERY.total_seconds()


def api_token_identify(plaintext: str | None, version: str | None = None) -> _Entry | None:
    """The verified token's cache entry (user, groups), or None. Updates `last_used_at`."""
    if not _looks_like_token(plaintext):
        return None
    if version is None:
        version = _version_now()
    token_hash = hash_token(plaintext)  # type: ignore[arg-type]
    entry = _cached(token_hash, version) or _load(token_hash, version)
    if entry is not None and _needs_touch(entry):
        _touch(entry)
    return entry


def api_token_authenticate(plaintext: str | None) -> User | None:
    """The active user a live token belongs to, else None (revoked, unknown, inactive user)."""
    entry = api_token_identify(plaintext)
    return entry.user if entry is not None else None


async def aapi_token_identify(plaintext: str | None) -> _Entry | None:
    """`api_token_identify` for async views: no thread hop when the cache answers."""
    if not _looks_like_token(plaintext):
        return None
    version = await _aversion()
    entry = _cached(hash_token(plaintext), version)  # type: ignore[arg-type]
    if entry is not None and not _needs_touch(entry):
        return entry
    return await run_db(api_token_identify, plaintext, version)


# What a verified token stands for: the token row, and its user's active state and role.
_USER_FIELDS = frozenset({"is_active", "role", "is_staff", "is_superuser", "username"})


def _token_saved(sender: Any, **kwargs: Any) -> None:
    auth_version_bump()


def _user_saved(sender: Any, update_fields: frozenset[str] | None = None, **kwargs: Any) -> None:
    # A login only writes last_login: no reason to drop every process's verified tokens.
    if kwargs.get("created"):
        return
    if update_fields is None or _USER_FIELDS & set(update_fields):
        auth_version_bump()


def connect_signals() -> None:
    """From AccountsConfig.ready: any path that revokes, deactivates or changes a role — the
    services, Django admin, a shell — invalidates verified tokens everywhere."""
    post_save.connect(_token_saved, sender=ApiToken, dispatch_uid="auth-version-token")
    post_delete.connect(_token_saved, sender=ApiToken, dispatch_uid="auth-version-token-del")
    post_save.connect(_user_saved, sender=User, dispatch_uid="auth-version-user")
    post_delete.connect(_token_saved, sender=User, dispatch_uid="auth-version-user-del")
