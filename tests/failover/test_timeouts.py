"""Timeouts: silence, a slow first token, a stall mid-stream. A timed-out model is not retried."""

from __future__ import annotations

from tests.failover.conftest import answer, candidate, sent_to


async def test_silence_before_any_byte_fails_over_without_a_retry(fake_upstream, settings):
    settings.FAILOVER_FIRST_TOKEN_TIMEOUT = 0.3
    fake_upstream.script(model="primary", delay_first_byte=1.5)
    chain = [candidate(fake_upstream, "primary"), candidate(fake_upstream, "backup")]

    done = await answer(chain)

    assert sent_to(fake_upstream, "primary") == 1
    assert done.tried() == [("openai/primary", "timeout"), ("openai/backup", None)]
    assert "No first token within 0.3 s" in done.result.attempts[0]["message"]
    assert done.elapsed < 1.5
    assert done.result.complete and done.result.answered_by == "openai/backup"


async def test_the_providers_own_read_timeout_still_applies(fake_upstream, settings):
    from dataclasses import replace

    settings.FAILOVER_FIRST_TOKEN_TIMEOUT = 30.0
    fake_upstream.script(model="primary", delay_first_byte=1.5)
    slow = candidate(fake_upstream, "primary", kind="anthropic")
    slow = replace(slow, config=replace(slow.config, read_timeout=0.3))

    done = await answer([slow, candidate(fake_upstream, "backup")])

    assert sent_to(fake_upstream, "primary") == 1
    assert done.tried() == [("anthropic/primary", "timeout"), ("openai/backup", None)]
    assert done.elapsed < 1.5


async def test_a_first_token_slower_than_the_limit_fails_over(fake_upstream, settings):
    settings.FAILOVER_FIRST_TOKEN_TIMEOUT = 0.3
    fake_upstream.script(model="primary", slow_first_token=1.5)
    chain = [
        candidate(fake_upstream, "primary", kind="anthropic"),
        candidate(fake_upstream, "backup"),
    ]

    done = await answer(chain)

    assert sent_to(fake_upstream, "primary") == 1
    assert done.tried() == [("anthropic/primary", "timeout"), ("openai/backup", None)]
    assert done.result.text.startswith("Fake reply from backup")


async def test_a_first_token_within_the_limit_is_waited_for(fake_upstream, settings):
    settings.FAILOVER_FIRST_TOKEN_TIMEOUT = 1.0
    settings.FAILOVER_STALL_TIMEOUT = 0.1  # the first token is governed by its own limit
    fake_upstream.script(model="primary", slow_first_token=0.3)

    done = await answer([candidate(fake_upstream, "primary"), candidate(fake_upstream, "backup")])

    assert done.result.answered_by == "openai/primary" and done.result.complete
    assert sent_to(fake_upstream, "backup") == 0


async def test_the_policy_caps_a_long_provider_connect_timeout():
    from providers.adapters.base import ChatRequest, ProviderConfig
    from providers.failover import Candidate, ChainResult, Policy, _Chain

    policy = Policy.current()
    chain = _Chain(ChatRequest(model="", messages=()), ChainResult(), policy, False)
    config = ProviderConfig(kind="openai", connect_timeout=30.0)

    capped = chain._config(Candidate("openai/x", "x", config))

    assert capped.connect_timeout == policy.connect_timeout == 0.5
    assert capped.read_timeout == config.read_timeout
