"""A clock for tests: nothing really waits, and time passes only when something waits for it.

- `sleep(s)` records the wait and moves the clock on at once.
- `within(awaitable, limit)` is a deadline in *virtual* time. Attached to the fake upstream
  (`FakeUpstream.clock = clock`), the upstream's delays and stalls do not sleep: each one is
  registered here as a `Hold` and the server thread blocks. A deadline that is waiting while a
  hold is pending settles it: a hold shorter than what is left of the limit is "waited out"
  (time moves on by its length and the upstream carries on); a longer one (or FOREVER) fires
  the deadline (time moves on by the limit) and the client hangs up.

Before settling, the deadline lets the event loop run a few hundred turns, so bytes the
upstream had already sent before it held are read first: the outcome never depends on how
fast the machine is.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

# Event-loop turns a deadline lets pass before settling a hold (not time: turns).
_DRAIN_TURNS = 300
_POLL = 0.002  # how often a waiting deadline looks for a new hold (never asserted on)


@dataclass(eq=False)
class Hold:
    seconds: float
    # True once the client that this hold delays has hung up: the hold is then nobody's to
    # settle (a later deadline, for another request, must not take it for its own).
    client_gone: Callable[[], bool] = lambda: False
    released: threading.Event = field(default_factory=threading.Event)
    settled: bool = False


class FakeClock:
    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start
        self._mono = 0.0
        self.sleeps: list[float] = []
        self.fired: list[float] = []  # limits of deadlines that expired
        self._lock = threading.Lock()
        self._holds: list[Hold] = []

    # -- the Clock protocol --

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    async def within(self, awaitable: Awaitable[T], seconds: float) -> T:
        loop = asyncio.get_running_loop()
        deadline = asyncio.timeout(None)
        watcher = loop.create_task(self._watch(deadline, seconds))
        try:
            async with deadline:
                return await awaitable
        finally:
            watcher.cancel()

    # -- test helpers --

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
            self._mono += seconds

    # -- the fake upstream's side --

    def hold(self, seconds: float, client_gone: Callable[[], bool]) -> None:
        """Called by the upstream's handler thread: block until settled or the client left."""
        hold = Hold(seconds, client_gone)
        with self._lock:
            self._holds.append(hold)
        while not hold.released.wait(0.01):
            if client_gone():
                break
        with self._lock:
            hold.settled = True
            if hold in self._holds:
                self._holds.remove(hold)

    # -- internals --

    def _pending(self) -> Hold | None:
        with self._lock:
            return next((h for h in self._holds if not h.settled and not h.client_gone()), None)

    async def _watch(self, deadline: asyncio.Timeout, limit: float) -> None:
        left = limit
        while True:
            hold = self._pending()
            if hold is None:
                await asyncio.sleep(_POLL)
                continue
            for _ in range(_DRAIN_TURNS):
                await asyncio.sleep(0)
            with self._lock:
                if hold.settled:
                    continue
                hold.settled = True
                if hold.seconds < left:
                    left -= hold.seconds
                    self.now += hold.seconds
                    self._mono += hold.seconds
                    hold.released.set()
                    continue
                self.now += left
                self._mono += left
                self.fired.append(limit)
            deadline.reschedule(asyncio.get_running_loop().time())
            return
