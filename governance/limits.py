"""Limits people expect: requests per minute per person and per API token, and concurrent
answers being streamed per person. Counters live in the shared cache, so every process
counts together.

Requests per minute use fixed one-minute windows (a counter per window that expires with
it): simple and cheap; a burst at a window's edge can see up to twice the rate across two
windows. A refusal says when the window ends (`retry_after`).

Concurrent streams: a counter per person, up on start and down on end. A process that dies
mid-stream cannot take its count down, so the counter expires `STREAM_COUNTER_TTL` after it
was created: at worst a crash costs the person a slot for that long.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings

from routerweb import clock as clocks
from routerweb import shared_cache

STREAM_COUNTER_TTL = 15 * 60.0


@dataclass(frozen=True)
class LimitHit:
    message: str
    retry_after: int


async def rate_check(*, user_id: int, token_id: int | None = None) -> LimitHit | None:
    """Count this request against the per-minute limits; a hit when one is exceeded."""
    now = clocks.current().time()
    window = int(now // 60)
    retry_after = max(1, math.ceil((window + 1) * 60 - now))
    limits = [("person", "user", user_id, settings.RATE_LIMIT_USER_RPM)]
    if token_id is not None:
        limits.append(("API token", "token", token_id, settings.RATE_LIMIT_TOKEN_RPM))
    for what, kind, ident, limit in limits:
        if not limit:
            continue
        count = await shared_cache.incr(f"rpm:{kind}:{ident}:{window}", 90)
        if count > limit:
            return LimitHit(
                f"Too many requests: at most {limit} per minute per {what}. "
                f"Try again in {retry_after} s.",
                retry_after,
            )
    return None


def _streams_key(user_id: int) -> str:
    return f"streams:{user_id}"


async def stream_start(user_id: int) -> LimitHit | None:
    """Take a stream slot; a hit (and no slot) when the person already streams the maximum."""
    limit = settings.MAX_CONCURRENT_STREAMS_PER_USER
    if not limit:
        return None
    key = _streams_key(user_id)
    await shared_cache.counter_add(key, 0, STREAM_COUNTER_TTL)
    count = await shared_cache.counter_incr(key, 1)
    if count is not None and count > limit:
        await shared_cache.counter_incr(key, -1)
        return LimitHit(
            f"Too many answers at once: at most {limit} streaming per person. "
            "Wait for one to finish.",
            5,
        )
    return None


async def stream_end(user_id: int) -> None:
    if settings.MAX_CONCURRENT_STREAMS_PER_USER:
        await shared_cache.counter_incr(_streams_key(user_id), -1)
