"""Time, as a parameter.

Code that waits, backs off, times out or measures a cool-off takes a `Clock` instead of calling
`time`, `asyncio.sleep` or `asyncio.timeout` itself, so tests pass a fake one and assert
behaviour (what was waited for, what timed out) without ever waiting: speed is a benchmark's
job, not a test's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock seconds (shared between processes, e.g. a breaker's cool-off end)."""
        ...

    def monotonic(self) -> float:
        """Seconds for measuring durations inside one process."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    async def within(self, awaitable: Awaitable[T], seconds: float) -> T:
        """`awaitable`'s result, or `TimeoutError` once `seconds` have passed (the awaitable
        is cancelled in the calling task, so what it holds is released first)."""
        ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def within(self, awaitable: Awaitable[T], seconds: float) -> T:
        async with asyncio.timeout(seconds):
            return await awaitable


SYSTEM_CLOCK = SystemClock()
_current: Clock = SYSTEM_CLOCK


def current() -> Clock:
    """The clock callers get when they pass none (the system's, unless a test installed one)."""
    return _current


def install(clock: Clock | None) -> None:
    """Make `clock` the default (tests only; None restores the system clock)."""
    global _current
    _current = clock if clock is not None else SYSTEM_CLOCK
