"""`routerweb.shared_cache` on each backend it speaks to without thread hops.

The local-memory cache is the embedded default; Redis is what production (and the second CI
stage) uses — its tests need the Redis at 127.0.0.1:6379 and are skipped when none runs.
"""

from __future__ import annotations

import asyncio
import socket
import time

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
    "LOCATION": "redis://127.0.0.1:6379/9",
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


async def test_values_expire(backend):
    await shared_cache.set("short", "v", 1)
    assert await shared_cache.get("short") == "v"
    await asyncio.sleep(1.2)
    assert await shared_cache.get("short") is None


async def test_a_counter_counts_and_its_window_starts_at_the_first_increment(backend):
    assert [await shared_cache.incr("n", 1) for _ in range(3)] == [1, 2, 3]
    await asyncio.sleep(1.2)
    assert await shared_cache.incr("n", 1) == 1, "a new window after expiry"


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
    started = time.monotonic()
    with pytest.raises(Exception):  # noqa: B017 - redis-py's ConnectionError
        await shared_cache.get("k")
    assert time.monotonic() - started < 2
    await shared_cache.aclose()
