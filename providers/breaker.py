"""A circuit breaker per model, shared by every process through the Django cache.

A model that keeps failing (`BREAKER_FAILURE_THRESHOLD` retryable failures within
`BREAKER_WINDOW_SECONDS`) is *open*: skipped for `BREAKER_COOLOFF_SECONDS`. After the cool-off
it is *half-open*: one request (the probe) is let through — the first process to claim it
with an atomic `add` wins, the others keep skipping. A probe that succeeds closes the circuit;
one that fails opens it for another cool-off.

State is three keys per model ref, each written with an atomic operation so that processes
never read-modify-write each other's state:
- `…:fails`  a counter of recent failures (expires after the window),
- `…:open`   the wall-clock time the cool-off ends (kept a window longer, for half-open),
- `…:probe`  the claim on the one probe request.

The cache is Redis in production; when it is unreachable the breaker counts as closed: a
broken cache must not stop answers, it only loses the protection. Every call goes through
`routerweb.shared_cache`, which reaches the cache without a thread hop: a check sits in front
of every model call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from django.conf import settings

from routerweb import clock as clocks
from routerweb import observability, shared_cache
from routerweb.clock import Clock

log = logging.getLogger(__name__)

Gate = Literal["closed", "probe", "open"]

_PREFIX = "breaker:v2:"


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    threshold: int
    window: float
    cooloff: float

    @classmethod
    def current(cls) -> BreakerSettings:
        # Read per call so tests (and a settings reload) take effect without a restart.
        return cls(
            threshold=getattr(settings, "BREAKER_FAILURE_THRESHOLD", 3),
            window=getattr(settings, "BREAKER_WINDOW_SECONDS", 60.0),
            cooloff=getattr(settings, "BREAKER_COOLOFF_SECONDS", 30.0),
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    gate: Gate
    retry_in: float = 0.0  # seconds left of the cool-off when open


def _key(ref: str, part: str) -> str:
    return f"{_PREFIX}{ref}:{part}"


async def check(ref: str, *, clock: Clock | None = None) -> Verdict:
    """May `ref` be called now? "probe" means yes, as the one half-open trial request."""
    try:
        open_until = await shared_cache.get(_key(ref, "open"))
        if open_until is None:
            return Verdict("closed")
        remaining = float(open_until) - (clock or clocks.current()).time()
        if remaining > 0:
            return Verdict("open", remaining)
        conf = BreakerSettings.current()
        # The claim expires on its own, so a prober that died does not keep the model shut.
        if await shared_cache.add(_key(ref, "probe"), "1", conf.cooloff):
            return Verdict("probe")
        return Verdict("open", 0.0)
    except Exception:
        log.warning("circuit breaker: cache unavailable, treating %s as closed", ref, exc_info=True)
        return Verdict("closed")


def prefetch_keys(refs: Iterable[str]) -> list[str]:
    """The keys `check` and `record_success` read for these models, for a request that reads
    them all at once first (`shared_cache.prefetch`)."""
    return [_key(ref, part) for ref in refs for part in ("open", "fails")]


async def record_success(ref: str, gate: Gate) -> None:
    try:
        if gate == "closed":
            # Failures must be consecutive-ish to trip the breaker; one success forgives them
            # (those counted before this request began: none is a write saved).
            fails = _key(ref, "fails")
            if not shared_cache.known_absent(fails):
                await shared_cache.delete(fails)
        else:
            await shared_cache.delete(*(_key(ref, p) for p in ("fails", "open", "probe")))
            log.info("circuit breaker: %s closed after a successful probe", ref)
    except Exception:
        log.warning("circuit breaker: cache unavailable, success of %s not recorded", ref)


async def record_failure(ref: str, gate: Gate, *, clock: Clock | None = None) -> bool:
    """Count one failure of `ref`; returns True when this failure opened the circuit."""
    conf = BreakerSettings.current()
    try:
        if gate != "closed":
            await _open(ref, conf, clock or clocks.current())
            await shared_cache.delete(_key(ref, "probe"))
            log.warning("circuit breaker: probe of %s failed, open again", ref)
            return True
        fails_key = _key(ref, "fails")
        # Atomic on Redis; the window starts at the first failure.
        failures = await shared_cache.incr(fails_key, conf.window)
        if failures < conf.threshold:
            return False
        await _open(ref, conf, clock or clocks.current())
        await shared_cache.delete(fails_key)
        log.warning(
            "circuit breaker: %s open for %.1f s after %d failures", ref, conf.cooloff, failures
        )
        return True
    except Exception:
        log.warning("circuit breaker: cache unavailable, failure of %s not recorded", ref)
        return False


async def _open(ref: str, conf: BreakerSettings, clock: Clock) -> None:
    observability.breaker_opened(ref)
    # Kept a window past the cool-off: that is how long the half-open state waits for a probe
    # before the model quietly counts as closed again.
    await shared_cache.set(
        _key(ref, "open"), repr(clock.time() + conf.cooloff), conf.cooloff + conf.window
    )
