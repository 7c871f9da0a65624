"""The circuit breaker: opens after repeated failures, skips, probes after the cool-off."""

from __future__ import annotations

from providers import breaker
from tests.failover.conftest import answer, candidate, sent_to


async def fail_three_times(fake_upstream, chain):
    for _ in range(3):
        done = await answer(chain)
        assert done.result.answered_by == "openai/backup"


async def test_a_model_that_keeps_failing_is_skipped_then_probed_and_closed(fake_upstream, clock):
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
    fake_upstream.clock = clock
    clock.advance(31)  # the cool-off is 30 s
    probed = await answer(chain)

    assert sent_to(fake_upstream, "flaky") == 1
    assert probed.result.answered_by == "openai/flaky"
    assert (await breaker.check("openai/flaky")).gate == "closed"


async def test_a_failed_probe_is_a_single_request_and_opens_the_circuit_again(fake_upstream, clock):
    fake_upstream.script(model="flaky", status=500)
    chain = [candidate(fake_upstream, "flaky"), candidate(fake_upstream, "backup")]
    await fail_three_times(fake_upstream, chain)
    clock.advance(31)

    probed = await answer(chain)
    after = await answer(chain)

    assert sent_to(fake_upstream, "flaky") == 6 + 1, "one probe, not retried, then shut"
    assert probed.tried() == [("openai/flaky", "unavailable"), ("openai/backup", None)]
    assert probed.result.attempts[0]["retried"] is False
    assert after.tried()[0] == ("openai/flaky", "circuit_open")


async def test_only_one_request_probes_a_half_open_circuit(clock):
    for _ in range(3):
        await breaker.record_failure("m/x", "closed")
    assert (await breaker.check("m/x")).gate == "open"
    clock.advance(29)
    assert (await breaker.check("m/x")).gate == "open", "still cooling off"
    clock.advance(2)

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
