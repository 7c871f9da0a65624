"""Timeouts: silence, a slow first token, a stall mid-stream. A timed-out model is not retried.

Delays happen in the fake clock's virtual time (see tests/fakeclock.py): nothing waits."""

from __future__ import annotations

from tests.failover.conftest import answer, candidate, sent_to


async def test_silence_before_any_byte_fails_over_without_a_retry(fake_upstream, clock, settings):
    settings.FAILOVER_FIRST_TOKEN_TIMEOUT = 15.0
    fake_upstream.script(model="primary", delay_first_byte="forever")
    chain = [candidate(fake_upstream, "primary"), candidate(fake_upstream, "backup")]

    done = await answer(chain)

    assert sent_to(fake_upstream, "primary") == 1
    assert done.tried() == [("openai/primary", "timeout"), ("openai/backup", None)]
    assert "No first token within 15 s" in done.result.attempts[0]["message"]
    assert clock.fired == [15.0]
    assert done.result.complete and done.result.answered_by == "openai/backup"
    assert done.result.text.startswith("Fake reply from backup"), "a clean restart"
    assert [a["outcome"] for a in done.result.attempts] == ["failed_over", "restarted"]


async def test_a_first_token_slower_than_the_limit_fails_over(fake_upstream, clock, settings):
    settings.FAILOVER_FIRST_TOKEN_TIMEOUT = 15.0
    fake_upstream.script(model="primary", slow_first_token=40)
    chain = [
        candidate(fake_upstream, "primary", kind="anthropic"),
        candidate(fake_upstream, "backup"),
    ]

    done = await answer(chain)

    assert sent_to(fake_upstream, "primary") == 1
    assert done.tried() == [("anthropic/primary", "timeout"), ("openai/backup", None)]
    assert done.result.text.startswith("Fake reply from backup")
    assert done.result.models == ["openai/backup"]


async def test_a_first_token_within_the_limit_is_waited_for(fake_upstream, clock, settings):
    settings.FAILOVER_FIRST_TOKEN_TIMEOUT = 15.0
    settings.FAILOVER_STALL_TIMEOUT = 5.0  # the first token is governed by its own limit
    fake_upstream.script(model="primary", slow_first_token=10)

    done = await answer([candidate(fake_upstream, "primary"), candidate(fake_upstream, "backup")])

    assert done.result.answered_by == "openai/primary" and done.result.complete
    assert sent_to(fake_upstream, "backup") == 0
    assert clock.fired == []
    assert done.result.attempts[0]["duration_ms"] == 10_000


async def test_a_pause_shorter_than_the_stall_limit_is_not_a_stall(fake_upstream, clock, settings):
    settings.FAILOVER_STALL_TIMEOUT = 20.0
    fake_upstream.script(
        model="primary", reply="one two three", stall_after_chunks=1, stall_seconds=19
    )

    done = await answer([candidate(fake_upstream, "primary"), candidate(fake_upstream, "backup")])

    assert done.result.text == "one two three" and done.result.complete
    assert clock.fired == []


async def test_the_policy_caps_a_long_provider_connect_timeout():
    from providers.adapters.base import ChatRequest, ProviderConfig
    from providers.failover import Candidate, ChainResult, Policy, _Chain
    from routerweb.clock import SYSTEM_CLOCK

    policy = Policy.current()
    chain = _Chain(
        ChatRequest(model="", messages=()), ChainResult(), policy, "stream", SYSTEM_CLOCK
    )
    config = ProviderConfig(kind="openai", connect_timeout=30.0)

    capped = chain._config(Candidate("openai/x", "x", config))

    assert capped.connect_timeout == policy.connect_timeout == 5.0
    assert capped.read_timeout == config.read_timeout
