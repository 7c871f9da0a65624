"""The circuit breaker: opens after repeated failures, skips, probes after the cool-off."""

from __future__ import annotations

import asyncio

from providers import breaker
from tests.failover.conftest import answer, candidate, sent_to


async def fail_three_times(fake_upstream, chain):
    for _ in range(3):
        done = await answer(chain)
        assert done.result.answered_by == "openai/backup"


async def test_a_model_that_keeps_failing_is_skipped_then_probed_and_closed(fake_upstream):
    fake_upstream.script(model="flaky", status=500)
    chain = [candidate(fake_upstream, "flaky"), candidate(fake_upstream, "backup")]
    await fail_three_times(fake_upstream, chain)
    assert sent_to(fake_upstream, "flaky") == 6  # two tries per message

    skipped = await answer(chain)

    assert sent_to(fake_upstream, "flaky") == 6, "an open circuit sends nothing"
    first = skipped.result.attempts[0]
    assert (first["model"], first["error"]) == ("openai/flaky", "circuit_open")
    assert first["message"].startswith("skipped: failing recently, retry after")
    assert skipped.result.answered_by == "openai/backup"

    fake_upstream.reset()  # the model recovers
    await asyncio.sleep(0.35)  # the cool-off (0.3 s in tests)
    probed = await answer(chain)

    assert sent_to(fake_upstream, "flaky") == 1
    assert probed.result.answered_by == "openai/flaky"
    assert (await breaker.check("openai/flaky")).gate == "closed"


async def test_a_failed_probe_opens_the_circuit_again(fake_upstream):
    fake_upstream.script(model="flaky", status=500)
    chain = [candidate(fake_upstream, "flaky"), candidate(fake_upstream, "backup")]
    await fail_three_times(fake_upstream, chain)
    await asyncio.sleep(0.35)

    probed = await answer(chain)
    after = await answer(chain)

    assert sent_to(fake_upstream, "flaky") == 6 + 2, "one probe (with its retry), then shut"
    assert probed.tried()[:2] == [("openai/flaky", "unavailable"), ("openai/flaky", "unavailable")]
    assert after.tried()[0] == ("openai/flaky", "circuit_open")


async def test_only_one_request_probes_a_half_open_circuit():
    for _ in range(3):
        await breaker.record_failure("m/x", "closed")
    assert (await breaker.check("m/x")).gate == "open"
    await asyncio.sleep(0.35)

    gates = [(await breaker.check("m/x")).gate for _ in range(3)]

    assert gates == ["probe", "open", "open"]


async def test_a_success_forgives_earlier_failures():
    await breaker.record_failure("m/x", "closed")
    await breaker.record_failure("m/x", "closed")
    await breaker.record_success("m/x", "closed")
    opened = await breaker.record_failure("m/x", "closed")

    assert not opened
    assert (await breaker.check("m/x")).gate == "closed"


async def test_when_every_circuit_is_open_the_last_model_is_tried_anyway(fake_upstream):
    for ref in ("openai/one", "openai/two"):
        for _ in range(3):
            await breaker.record_failure(ref, "closed")
    chain = [candidate(fake_upstream, "one"), candidate(fake_upstream, "two")]

    done = await answer(chain)

    assert (sent_to(fake_upstream, "one"), sent_to(fake_upstream, "two")) == (0, 1)
    assert done.tried() == [
        ("openai/one", "circuit_open"),
        ("openai/two", "circuit_open"),
        ("openai/two", None),
    ]
    assert "tried anyway" in done.result.attempts[-1]["note"]
    assert done.result.complete and done.result.answered_by == "openai/two"
    assert (await breaker.check("openai/two")).gate == "closed"


async def test_a_broken_cache_leaves_the_breaker_closed(fake_upstream, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    fake_upstream.script(model="flaky", status=500)
    chain = [candidate(fake_upstream, "flaky"), candidate(fake_upstream, "backup")]

    for _ in range(4):
        done = await answer(chain)
        assert done.result.answered_by == "openai/backup"

    assert sent_to(fake_upstream, "flaky") == 8, "no state, so never skipped — but answers flow"
