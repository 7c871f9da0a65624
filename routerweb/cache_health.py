"""Whether the shared cache (Redis) answers: one latch per process.

Every Redis call has short socket timeouts (`REDIS_SOCKET_TIMEOUT`), but a Redis that accepts
connections and never answers would still cost that timeout on *each* call — a login makes
two or three, a `/v1` call two, a dry-run up to four. So the first timeout or connection
error marks the cache down for `CACHE_DOWN_SECONDS`; until then every call fails at once
(`CacheDown`) and its caller does what it decided to do without the cache (fail open or
closed: see the README's "When Redis is down"). After the pause the next call tries again.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings

from routerweb import clock as clocks

log = logging.getLogger(__name__)


def clock() -> float:
    return clocks.current().monotonic()  # tests install a fake clock (routerweb.clock)


_lock = threading.Lock()
_down_until = 0.0


class CacheDown(ConnectionError):
    """The shared cache is marked down: the call was not attempted."""


def check() -> None:
    if _down_until and clock() < _down_until:
        raise CacheDown("the shared cache did not answer recently; not trying again yet")


def mark_down(error: BaseException) -> None:
    global _down_until
    with _lock:
        first = not (_down_until and clock() < _down_until)
        _down_until = clock() + settings.CACHE_DOWN_SECONDS
    if first:
        log.warning(
            "shared cache unavailable (%s); not used for %ss",
            error,
            settings.CACHE_DOWN_SECONDS,
        )


def reset() -> None:
    global _down_until
    with _lock:
        _down_until = 0.0


def is_down() -> bool:
    return bool(_down_until and clock() < _down_until)
