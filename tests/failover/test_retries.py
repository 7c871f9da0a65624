"""Retries on the same model: 429 with and without Retry-After, 5xx, connection resets."""

from __future__ import annotations

from tests.failover.conftest import answer, candidate, sent_to


async def test_a_429_with_retry_after_is_waited_out_and_retried_on_the_same_model(
    fake_upstream, clock
):
    fake_upstream.script(model="primary", times=1, status=429, retry_after=0.4)
    chain = [candidate(fake_upstream, "primary"), candidate(fake_upstream, "backup")]

    done = await answer(chain)

    assert clock.sleeps == [0.4]
    assert sent_to(fake_upstream, "primary") == 2
    assert sent_to(fake_upstream, "backup") == 0
    assert done.result.complete and done.result.answered_by == "openai/primary"
    first = done.result.attempts[0]
    assert (first["error"], first["retry_after"], first["retried"]) == ("rate_limited", 0.4, True)
    assert not done.result.fallback_used, "a retry of the same model is not a fallback"


async def test_a_retry_after_above_the_cap_fails_over_at_once(fake_upstream, settings, clock):
    settings.FAILOVER_MAX_RETRY_AFTER = 1.0
    fake_upstream.script(model="primary", status=429, retry_after=30)
    chain = [candidate(fake_upstream, "primary"), candidate(fake_upstream, "backup")]

    done = await answer(chain)

    assert clock.sleeps == []
    assert sent_to(fake_upstream, "primary") == 1
    assert done.result.answered_by == "openai/backup"
    assert done.tried() == [("openai/primary", "rate_limited"), ("openai/backup", None)]
    assert done.result.attempts[0]["retried"] is False
    assert done.result.fallback_used


async def test_a_429_without_retry_after_backs_off_a_bounded_number_of_times(
    fake_upstream, settings, clock
):
    settings.FAILOVER_BACKOFF_BASE = 0.2
    settings.FAILOVER_BACKOFF_MAX = 0.2
    fake_upstream.script(status=429)  # every model, every time
    chain = [candidate(fake_upstream, "primary"), candidate(fake_upstream, "backup")]

    done = await answer(chain)

    # One backoff per model, each at least half the base step: no tight loop.
    assert len(clock.sleeps) == 2 and all(0.1 <= wait <= 0.2 for wait in clock.sleeps)
    assert (sent_to(fake_upstream, "primary"), sent_to(fake_upstream, "backup")) == (2, 2)
    assert not done.result.complete
    assert done.result.error.kind == "rate_limited"
    assert done.result.answered_by is None


async def test_a_5xx_is_retried_once_then_the_chain_fails_over(fake_upstream):
    fake_upstream.script(model="primary", status=500)
    chain = [candidate(fake_upstream, "primary"), candidate(fake_upstream, "backup")]

    done = await answer(chain)

    assert sent_to(fake_upstream, "primary") == 2
    assert sent_to(fake_upstream, "backup") == 1
    assert done.tried() == [
        ("openai/primary", "unavailable"),
        ("openai/primary", "unavailable"),
        ("openai/backup", None),
    ]
    assert [a["retried"] for a in done.result.attempts] == [True, False, False]
    assert done.result.attempts[0]["status_code"] == 500
    assert done.result.answered_by == "openai/backup" and done.result.complete


async def test_a_5xx_that_clears_up_is_answered_by_the_same_model(fake_upstream):
    fake_upstream.script(model="primary", times=1, status=503)
    chain = [candidate(fake_upstream, "primary", kind="anthropic")]

    done = await answer(chain)

    assert sent_to(fake_upstream, "primary") == 2
    assert done.result.complete and done.result.answered_by == "anthropic/primary"


async def test_a_connection_reset_before_headers_is_retried_once(fake_upstream):
    fake_upstream.script(model="primary", times=1, reset_before_headers=True)
    chain = [candidate(fake_upstream, "primary"), candidate(fake_upstream, "backup")]

    done = await answer(chain)

    assert sent_to(fake_upstream, "primary") == 2
    assert sent_to(fake_upstream, "backup") == 0
    assert done.tried() == [("openai/primary", "unavailable"), ("openai/primary", None)]


async def test_repeated_resets_fail_over_after_the_second_try(fake_upstream):
    fake_upstream.script(model="primary", reset_before_headers=True)
    chain = [
        candidate(fake_upstream, "primary", kind="anthropic"),
        candidate(fake_upstream, "backup"),
    ]

    done = await answer(chain)

    assert sent_to(fake_upstream, "primary") == 2
    assert done.result.answered_by == "openai/backup"


async def test_an_unreachable_provider_is_retried_once_then_skipped(fake_upstream, unused_tcp_port):
    from dataclasses import replace

    dead = candidate(fake_upstream, "primary")
    dead = replace(
        dead, config=replace(dead.config, base_url=f"http://127.0.0.1:{unused_tcp_port}/v1")
    )

    done = await answer([dead, candidate(fake_upstream, "backup")])

    assert done.tried() == [
        ("openai/primary", "unavailable"),
        ("openai/primary", "unavailable"),
        ("openai/backup", None),
    ]


async def test_a_request_refused_before_any_text_costs_nothing(fake_upstream):
    fake_upstream.script(model="primary", status=500)
    fake_upstream.script(model="backup", usage={"input_tokens": 40, "output_tokens": 9})
    chain = [candidate(fake_upstream, "primary"), candidate(fake_upstream, "backup")]

    done = await answer(chain)

    usage = done.result.usage
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (40, 9, False)
    assert done.result.usage_by_model() == [("openai/backup", usage)]
    assert done.result.answered_by == "openai/backup"
    assert [a["outcome"] for a in done.result.attempts] == ["retried", "failed_over", "restarted"]


async def test_a_misconfigured_provider_is_skipped_without_a_request(fake_upstream):
    from dataclasses import replace

    broken = candidate(fake_upstream, "primary")
    broken = replace(broken, config=replace(broken.config, kind="openai_compatible", base_url=""))

    done = await answer([broken, candidate(fake_upstream, "backup")])

    assert done.tried() == [("openai/primary", "bad_request"), ("openai/backup", None)]
    assert sent_to(fake_upstream, "primary") == 0
