"""The fake clock itself: a deadline is decided by virtual time and by its own request only."""

from __future__ import annotations

import asyncio

from tests.fakeclock import FakeClock, Hold


async def test_a_hold_whose_client_has_gone_is_not_taken_by_a_later_deadline():
    # A request held by the upstream whose client hung up (a real-time SDK timeout, say)
    # before the hold was settled: a later deadline, waiting on another request, must not
    # settle it as its own and fire.
    clock = FakeClock()
    clock._holds.append(Hold(5.0, client_gone=lambda: True))

    got = await clock.within(asyncio.sleep(0.05, result="answered"), 3.0)

    assert got == "answered"
    assert clock.fired == []
