"""Django's Redis cache, failing fast when Redis does not answer (see routerweb.cache_health)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from routerweb import cache_health

# What "Redis did not answer" looks like through redis-py.
UNAVAILABLE: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: RedisCache, *args: Any, **kwargs: Any) -> Any:
        cache_health.check()
        try:
            return method(self, *args, **kwargs)
        except UNAVAILABLE as exc:
            cache_health.mark_down(exc)
            raise cache_health.CacheDown(str(exc)) from exc

    return call


class FailFastRedisCache(RedisCache):
    """RedisCache whose calls raise `CacheDown` at once while Redis is marked down. Django's
    async cache methods run these on a thread, so they are covered too."""


for _name in (
    "add",
    "get",
    "set",
    "touch",
    "delete",
    "get_many",
    "has_key",
    "incr",
    "set_many",
    "delete_many",
    "clear",
):
    setattr(FailFastRedisCache, _name, _guarded(getattr(RedisCache, _name)))


class LocalCache(LocMemCache):
    """The embedded default's in-process cache, without the per-call key check.

    `LocMemCache` checks every key for characters memcached would refuse (`validate_key`,
    a Python loop over the key) and warns; no memcached is involved here and the keys are
    this project's own (`routerweb.shared_cache` and Django's sessions/ratelimits, which are
    plain ASCII). On the gateway's path that check ran several times per call."""

    def validate_key(self, key: str) -> None:
        return None
