"""`routerweb.shared_cache` on each backend it speaks to without thread hops.

The local-memory cache is the embedded default; Redis is what production (and the second CI
stage) uses — its tests need the Redis at 127.0.0.1:6379 and are skipped when none runs.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import socket

import pytest

from routerweb import shared_cache


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.2):
            return True
    except OSError:
        return False


LOCAL = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "shared-test"}
REDIS = {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    # One database per concurrent test run (these tests flush it); CI runs one at a time.
    "LOCATION": os.environ.get("ROUTERWEB_TEST_REDIS_URL", "redis://127.0.0.1:6379/9"),
}


@pytest.fixture(
    params=[
        pytest.param(LOCAL, id="local"),
        pytest.param(
            REDIS,
            id="redis",
            marks=pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379"),
        ),
    ]
)
async def backend(request, settings):
    settings.CACHES = {"default": request.param}
    from django.core.cache import cache

    cache.clear()
    yield request.param
    cache.clear()
    await shared_cache.aclose()


async def test_set_get_add_and_delete(backend):
    assert await shared_cache.get("k") is None
    await shared_cache.set("k", "v1", 60)
    assert await shared_cache.get("k") == "v1"
    assert not await shared_cache.add("k", "v2", 60), "add never replaces"
    assert await shared_cache.get("k") == "v1"
    assert await shared_cache.add("other", "x", None)
    await shared_cache.delete("k", "other", "never-there")
    assert await shared_cache.get("k") is None
    assert await shared_cache.get("other") is None


class _LocalTime:
    """Django's local-memory cache reads `time.time()` (to set an expiry, in the base backend,
    and to check one); this one is moved on by the test."""

    def __init__(self) -> None:
        import time as real

        self.now = real.time()

    def time(self) -> float:
        return self.now


@pytest.fixture
def local_time(monkeypatch):
    fake = _LocalTime()
    monkeypatch.setattr("django.core.cache.backends.locmem.time", fake)
    monkeypatch.setattr("django.core.cache.backends.base.time", fake)
    return fake


def lifetime(backend, key: str) -> float:
    """Seconds until `key` expires, as the backend itself holds it."""
    if backend is REDIS:
        import redis

        client = redis.Redis.from_url(REDIS["LOCATION"])
        try:
            return client.pttl(shared_cache.PREFIX + key) / 1000
        finally:
            client.close()
    import django.core.cache.backends.locmem as locmem
    from django.core.cache import cache

    return cache._expire_info[cache.make_key(shared_cache.PREFIX + key)] - locmem.time.time()


# Lifetimes far longer than a loaded machine can stall between two lines of a test: Redis
# counts them in real time (only the local-memory cache's clock is the test's).
TTL = 300


async def test_values_expire(backend, local_time):
    await shared_cache.set("short", "v", TTL)
    assert await shared_cache.get("short") == "v"
    assert 0 < lifetime(backend, "short") <= TTL
    if backend is LOCAL:
        local_time.now += TTL + 0.01
        assert await shared_cache.get("short") is None


async def test_a_counter_counts_and_its_window_starts_at_the_first_increment(backend, local_time):
    assert await shared_cache.incr("n", TTL) == 1
    first = lifetime(backend, "n")
    if backend is LOCAL:
        local_time.now += TTL - 2
    assert [await shared_cache.incr("n", TTL) for _ in range(2)] == [2, 3]
    assert 0 < lifetime(backend, "n") <= first <= TTL, "later increments keep the window"
    if backend is LOCAL:
        local_time.now += 2.01
        assert await shared_cache.incr("n", TTL) == 1, "a new window after expiry"


async def test_synchronous_writes_are_seen_by_async_reads(backend):
    await asyncio.to_thread(shared_cache.set_now, "version", "abc")
    assert await shared_cache.get("version") == "abc"


async def test_keys_are_cleared_with_the_rest_of_the_cache(backend):
    from django.core.cache import cache

    await shared_cache.set("k", "v", 60)
    cache.clear()
    assert await shared_cache.get("k") is None


async def test_an_unreachable_redis_fails_fast(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    # Short socket timeouts (shared_cache._TIMEOUT) make this fail rather than hang.
    with pytest.raises(Exception):  # noqa: B017 - redis-py's ConnectionError
        await shared_cache.get("k")
    await shared_cache.aclose()


async def test_each_requests_context_uses_the_one_local_cache_object(settings, monkeypatch):
    # Django's `cache` proxy builds a backend object per context (each request's asyncio task
    # starts without one); the hot path's reads use one backend object for every request, on
    # the same storage as the proxy's.
    settings.CACHES = {"default": LOCAL}
    from django.core.cache import cache, caches

    await shared_cache.set("seen", "1", None)
    made: list[str] = []
    real = caches.create_connection
    monkeypatch.setattr(
        caches, "create_connection", lambda alias: made.append(alias) or real(alias)
    )

    async def one_request() -> str | None:
        await shared_cache.incr("hits", 60)
        return await shared_cache.get("seen")

    assert (
        await asyncio.gather(
            *(asyncio.create_task(one_request(), context=contextvars.Context()) for _ in range(5))
        )
        == ["1"] * 5
    )
    assert made == []
    assert cache.get(shared_cache.PREFIX + "hits") == 5

    settings.CACHES = {"default": {**LOCAL, "LOCATION": "another"}}
    assert await shared_cache.get("seen") is None
