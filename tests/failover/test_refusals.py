"""Errors that are not retried: context too long, content-policy refusals, auth, bad requests."""

from __future__ import annotations

import dataclasses

from providers.failover import Policy
from tests.failover.conftest import answer, candidate, sent_to

LONG = "word " * 400  # ~500 estimated tokens


async def test_a_conversation_too_long_for_a_model_is_not_sent_to_it(fake_upstream):
    chain = [
        candidate(fake_upstream, "small", context_window=100),
        candidate(fake_upstream, "large", context_window=100_000),
    ]

    done = await answer(chain, text=LONG)

    assert sent_to(fake_upstream, "small") == 0
    assert done.tried() == [("openai/small", "context_too_long"), ("openai/large", None)]
    skipped = done.result.attempts[0]
    assert skipped["skipped"] and "100-token context window" in skipped["message"]
    assert done.result.answered_by == "openai/large"


async def test_a_provider_saying_too_long_is_not_retried_and_smaller_models_are_skipped(
    fake_upstream,
):
    fake_upstream.script(model="mid", error_code="context_length_exceeded")
    chain = [
        candidate(fake_upstream, "mid", context_window=8_000),
        candidate(fake_upstream, "smaller", kind="anthropic", context_window=4_000),
        candidate(fake_upstream, "large", kind="anthropic", context_window=200_000),
    ]

    done = await answer(chain)

    assert sent_to(fake_upstream, "mid") == 1
    assert sent_to(fake_upstream, "smaller") == 0
    assert done.tried() == [
        ("openai/mid", "context_too_long"),
        ("anthropic/smaller", "context_too_long"),
        ("anthropic/large", None),
    ]
    assert "maximum context length" in done.result.attempts[0]["message"]


async def test_when_no_model_fits_the_error_says_so_and_nothing_is_sent(fake_upstream):
    done = await answer([candidate(fake_upstream, "small", context_window=50)], text=LONG)

    assert fake_upstream.requests == []
    assert done.result.error.kind == "context_too_long"
    assert "exceeds its 50-token context window" in done.result.error.message


async def test_a_refusal_stops_the_chain_and_shows_the_providers_reason(fake_upstream):
    fake_upstream.script(model="primary", error_code="refusal")
    chain = [
        candidate(fake_upstream, "primary", kind="anthropic"),
        candidate(fake_upstream, "backup"),
    ]

    done = await answer(chain)

    assert sent_to(fake_upstream, "primary") == 1
    assert sent_to(fake_upstream, "backup") == 0
    assert not done.result.complete and done.result.text == ""
    assert done.result.error.kind == "content_filter"
    reason = "The request was declined by the usage policy."
    assert reason in done.result.error.message
    assert reason in done.result.attempts[0]["message"]
    assert done.result.attempts[0]["retried"] is False


async def test_a_refusal_moves_on_when_the_caller_allows_it(fake_upstream):
    fake_upstream.script(model="primary", error_code="content_policy_violation")
    chain = [
        candidate(fake_upstream, "primary"),
        candidate(fake_upstream, "backup", kind="anthropic"),
    ]

    done = await answer(
        chain, policy=dataclasses.replace(Policy.current(), fall_back_on_refusal=True)
    )

    assert sent_to(fake_upstream, "primary") == 1
    assert done.tried() == [("openai/primary", "content_filter"), ("anthropic/backup", None)]
    assert "safety system" in done.result.attempts[0]["message"]
    assert done.result.complete and done.result.answered_by == "anthropic/backup"


async def test_an_auth_error_is_not_retried_and_fails_over(fake_upstream):
    fake_upstream.script(model="primary", status=401)
    fake_upstream.script(model="second", status=400)
    chain = [
        candidate(fake_upstream, "primary"),
        candidate(fake_upstream, "second", kind="anthropic"),
        candidate(fake_upstream, "backup"),
    ]

    done = await answer(chain)

    assert (sent_to(fake_upstream, "primary"), sent_to(fake_upstream, "second")) == (1, 1)
    assert done.tried() == [
        ("openai/primary", "auth"),
        ("anthropic/second", "bad_request"),
        ("openai/backup", None),
    ]
