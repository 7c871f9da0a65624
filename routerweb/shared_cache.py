"""The few shared-cache operations an answer's hot path needs, without thread hops.

Django's cache API is synchronous: its `a…` methods run each call on a worker thread, and
under ASGI the first such hop of a request starts a thread of its own (asgiref's
`ThreadSensitiveContext`). On the path every API answer takes (circuit-breaker checks, the
routing-configuration version) that cost about a millisecond per request. Here:

- with Redis (production), calls go through redis-py's asyncio client: real non-blocking I/O,
  one client per event loop (its sockets belong to that loop), short timeouts so an outage
  fails fast instead of holding answers;
- with the local-memory cache (the embedded default), calls go straight to Django's cache
  object: in-process dictionary operations that never block, so no hop is needed;
- with any other backend, calls fall back to Django's async methods (correct, just slower).

A request that knows which keys it will read can `prefetch` them first: one MGET, after
which each of those keys is answered from it once, by the next `get` in the same request
(a write to a key drops it). What an answer's path reads then costs one round trip instead
of one each (see gateway/v1.py).

Values are strings. Keys get their own prefix; `cache.clear()` (Redis FLUSHDB, or the
local-memory dict) clears them with everything else. Callers decide what a cache outage
means: every function raises on failure.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from typing import Any

import redis
import redis.asyncio
from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.signals import setting_changed

from routerweb import cache_health
from routerweb.cache import UNAVAILABLE

PREFIX = "routerweb:"
_REDIS_BACKENDS = frozenset(
    {"django.core.cache.backends.redis.RedisCache", "routerweb.cache.FailFastRedisCache"}
)
_LOCMEM_BACKENDS = frozenset(
    {"django.core.cache.backends.locmem.LocMemCache", "routerweb.cache.LocalCache"}
)

_lock = threading.Lock()
_kind: str | None = None  # "redis", "local" or "django", from settings.CACHES
_redis_url = ""
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
    weakref.WeakKeyDictionary()
)
_sync_client: Any = None
_local_cache: Any = None


def _backend() -> str:
    global _kind, _redis_url
    if _kind is None:
        conf = settings.CACHES["default"]
        backend = str(conf["BACKEND"])
        if backend in _REDIS_BACKENDS:
            location = conf["LOCATION"]
            _redis_url = str(location[0] if isinstance(location, list | tuple) else location)
            _kind = "redis"
        elif backend in _LOCMEM_BACKENDS:
            _kind = "local"
        else:
            _kind = "django"
    return _kind


def _reset(*, setting: str, **_: Any) -> None:
    global _kind, _sync_client, _local_cache
    if setting in ("CACHES", "REDIS_SOCKET_TIMEOUT"):
        cache_health.reset()
        with _lock:
            _kind = None
            _sync_client = None
            _local_cache = None
            _async_clients.clear()


setting_changed.connect(_reset)


def _local() -> Any:
    """The local-memory cache backend itself, made once. `django.core.cache.cache` looks the
    backend up on every use in a context-local (asgiref's `Local`), where each request's
    asyncio task starts without one and builds a backend object of its own: a few
    microseconds per lookup, several per answer. Every backend object of one local-memory
    cache shares its storage and lock (by LOCATION), so this one sees what the others do."""
    global _local_cache
    if _local_cache is None:
        with _lock:
            if _local_cache is None:
                _local_cache = caches.create_connection(DEFAULT_CACHE_ALIAS)
    return _local_cache


def _store() -> Any:
    """The Django cache a synchronous call uses without Redis: the local-memory backend itself
    (`_local`), or Django's `cache` for any other backend."""
    return _local() if _backend() == "local" else cache


def _aredis() -> Any:
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = redis.asyncio.Redis.from_url(
            _redis_url,
            decode_responses=True,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        )
        with _lock:
            _async_clients[loop] = client
    return client


def _redis() -> Any:
    global _sync_client

    if _sync_client is None:
        with _lock:
            _sync_client = redis.Redis.from_url(
                _redis_url,
                decode_responses=True,
                socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
                socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
            )
    return _sync_client


async def _guard[T](call: Callable[[], Awaitable[T]]) -> T:
    """Run one Redis call unless Redis is marked down; a timeout or refused connection marks
    it down (routerweb.cache_health), so the next calls fail at once instead of waiting."""
    cache_health.check()
    try:
        return await call()
    except UNAVAILABLE as exc:
        cache_health.mark_down(exc)
        raise cache_health.CacheDown(str(exc)) from exc


def _guard_now[T](call: Callable[[], T]) -> T:
    cache_health.check()
    try:
        return call()
    except UNAVAILABLE as exc:
        cache_health.mark_down(exc)
        raise cache_health.CacheDown(str(exc)) from exc


def _ttl(seconds: float) -> int:
    # Whole seconds (Redis); a timeout of 0 would mean "do not store" to Django's cache.
    return max(1, int(seconds + 0.999))


def _ex(seconds: float | None) -> int | None:
    return None if seconds is None else _ttl(seconds)


# What `prefetch` read for the running request (its asyncio task's context), until used.
_prefetched: ContextVar[dict[str, str | None] | None] = ContextVar(
    "shared_cache_prefetched", default=None
)


def prefetches() -> bool:
    """Whether `prefetch` reads anything: only Redis needs it (the local-memory cache answers
    in-process), so a caller can skip working out what to prefetch."""
    return _backend() == "redis"


async def prefetch(keys: Iterable[str]) -> None:
    """Read `keys` in one round trip; each is then answered from this read by the next `get`
    of it in the same request, once (later gets read afresh). Only Redis needs this (the
    local-memory cache answers in-process); a failed read prefetches nothing, and the gets
    themselves then meet the outage as usual."""
    if not prefetches():
        return
    names = list(dict.fromkeys(keys))
    if not names:
        return
    try:
        values = await _guard(lambda: _aredis().mget([PREFIX + k for k in names]))
    except Exception:
        return
    _prefetched.set(dict(zip(names, values, strict=True)))


def known_absent(key: str) -> bool:
    """True when this request's prefetch found no `key` (and nothing has written it since):
    a write that only removes it can be skipped. Never guesses: False when it was not read."""
    held = _prefetched.get()
    return held is not None and key in held and held.pop(key) is None


def _drop(names: Iterable[str]) -> None:
    held = _prefetched.get()
    if held:
        for name in names:
            held.pop(name, None)


async def get(key: str) -> str | None:
    held = _prefetched.get()
    if held is not None and key in held:
        return held.pop(key)
    kind = _backend()
    if kind == "redis":
        return await _guard(lambda: _aredis().get(PREFIX + key))
    if kind == "local":
        return _local().get(PREFIX + key)
    return await cache.aget(PREFIX + key)


async def set(key: str, value: str, ttl: float | None) -> None:  # noqa: A001 - the cache verb
    """Store `value`; `ttl` None keeps it until it is replaced (or evicted)."""
    _drop((key,))
    kind = _backend()
    if kind == "redis":
        await _guard(lambda: _aredis().set(PREFIX + key, value, ex=_ex(ttl)))
    elif kind == "local":
        _local().set(PREFIX + key, value, _ex(ttl))
    else:
        await cache.aset(PREFIX + key, value, _ex(ttl))


async def add(key: str, value: str, ttl: float | None) -> bool:
    """Set `key` only if it does not exist; True when this call set it (atomic)."""
    _drop((key,))
    kind = _backend()
    if kind == "redis":
        return bool(await _guard(lambda: _aredis().set(PREFIX + key, value, ex=_ex(ttl), nx=True)))
    if kind == "local":
        return _local().add(PREFIX + key, value, _ex(ttl))
    return await cache.aadd(PREFIX + key, value, _ex(ttl))


async def delete(*keys: str) -> None:
    _drop(keys)
    kind = _backend()
    names = [PREFIX + k for k in keys]
    if kind == "redis":
        await _guard(lambda: _aredis().delete(*names))
    elif kind == "local":
        _local().delete_many(names)
    else:
        await cache.adelete_many(names)


async def incr(key: str, ttl: float) -> int:
    """Add one to a counter that starts at 1 and expires `ttl` seconds after it was created."""
    _drop((key,))
    kind = _backend()
    name = PREFIX + key
    if kind == "redis":
        # One MULTI: create the counter with its expiry if absent, then count (INCR keeps
        # the expiry). Works on every Redis version, unlike EXPIRE … NX (7.0+).
        async def counted() -> int:
            async with _aredis().pipeline(transaction=True) as pipe:
                pipe.set(name, 0, ex=_ttl(ttl), nx=True)
                pipe.incr(name)
                _, count = await pipe.execute()
            return int(count)

        return await _guard(counted)
    if kind == "local":
        return _local_incr(_local(), name, ttl)
    return await asyncio.to_thread(_local_incr, cache, name, ttl)


def _local_incr(store: Any, name: str, ttl: float) -> int:
    store.add(name, 0, _ttl(ttl))
    try:
        return store.incr(name)
    except ValueError:  # expired between the two calls
        store.set(name, 1, _ttl(ttl))
        return 1


# INCRBY only on a counter that exists: a lost counter must be rebuilt (from the database),
# never silently restarted at the increment.
_INCR_EXISTING = (
    "if redis.call('exists', KEYS[1]) == 1 then "
    "return redis.call('incrby', KEYS[1], ARGV[1]) else return false end"
)


async def counter_add(key: str, value: int, ttl: float) -> bool:
    """Create an integer counter at `value` unless it exists; True when this call made it."""
    kind = _backend()
    if kind == "redis":
        return bool(
            await _guard(lambda: _aredis().set(PREFIX + key, int(value), ex=_ttl(ttl), nx=True))
        )
    if kind == "local":
        return _local().add(PREFIX + key, int(value), _ttl(ttl))
    return await cache.aadd(PREFIX + key, int(value), _ttl(ttl))


async def counter_incr(key: str, amount: int) -> int | None:
    """Atomically add `amount` (may be negative) to an existing counter and return the new
    value; None when the counter does not exist."""
    kind = _backend()
    if kind == "redis":
        value = await _guard(lambda: _aredis().eval(_INCR_EXISTING, 1, PREFIX + key, int(amount)))
        return None if value is None else int(value)
    if kind == "local":
        return _local_incr_existing(_local(), PREFIX + key, amount)
    return await asyncio.to_thread(_local_incr_existing, cache, PREFIX + key, amount)


def counter_incr_now(key: str, amount: int) -> int | None:
    """`counter_incr` for synchronous code (settling an answer's cost after it ends)."""
    if _backend() == "redis":
        value = _guard_now(lambda: _redis().eval(_INCR_EXISTING, 1, PREFIX + key, int(amount)))
        return None if value is None else int(value)
    return _local_incr_existing(_store(), PREFIX + key, amount)


def _local_incr_existing(store: Any, name: str, amount: int) -> int | None:
    try:
        return int(store.incr(name, int(amount)))
    except ValueError:  # absent (or expired)
        return None


def get_now(key: str) -> str | None:
    """`get` for synchronous code."""
    if _backend() == "redis":
        return _guard_now(lambda: _redis().get(PREFIX + key))
    return _store().get(PREFIX + key)


def add_now(key: str, value: str, ttl: float | None = None) -> bool:
    """`add` for synchronous code (`ttl` None: no expiry)."""
    if _backend() == "redis":
        return bool(_guard_now(lambda: _redis().set(PREFIX + key, value, ex=_ex(ttl), nx=True)))
    return _store().add(PREFIX + key, value, _ex(ttl))


def delete_now(*keys: str) -> None:
    """`delete` for synchronous code."""
    names = [PREFIX + k for k in keys]
    if _backend() == "redis":
        _guard_now(lambda: _redis().delete(*names))
    else:
        _store().delete_many(names)


def set_now(key: str, value: str) -> None:
    """`set` (with no expiry) for synchronous code."""
    kind = _backend()
    if kind == "redis":
        _guard_now(lambda: _redis().set(PREFIX + key, value))
    else:
        _store().set(PREFIX + key, value, None)


async def aclose() -> None:
    """Close the running loop's Redis client, if any (tests, whose loops come and go)."""
    with _lock:
        client = _async_clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()
