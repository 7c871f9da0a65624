"""The policy's decisions on their own: what is retried, how long it waits, how it continues."""

from __future__ import annotations

import pytest

from providers.adapters.base import ChatMessage, ProviderError
from providers.failover import (
    CONTINUE_INSTRUCTION,
    ChainResult,
    Policy,
    continuation_messages,
    next_step,
)

POLICY = Policy(
    max_attempts=2,
    backoff_base=0.2,
    backoff_max=2.0,
    max_retry_after=5.0,
    connect_timeout=10.0,
    first_token_timeout=60.0,
    stall_timeout=30.0,
)


@pytest.mark.parametrize("kind", ["rate_limited", "unavailable", "dropped_stream"])
def test_transient_failures_are_retried_once_after_a_backoff(kind):
    first = next_step(ProviderError(kind, "x"), tries=1, shown=False, policy=POLICY)
    second = next_step(ProviderError(kind, "x"), tries=2, shown=False, policy=POLICY)

    assert first.retry and 0.1 <= first.wait <= 0.2
    assert not second.retry


@pytest.mark.parametrize(
    "kind", ["timeout", "auth", "bad_request", "context_too_long", "content_filter"]
)
def test_other_failures_are_never_retried_on_the_same_model(kind):
    assert not next_step(ProviderError(kind, "x"), tries=1, shown=False, policy=POLICY).retry


def test_retry_after_is_honoured_up_to_the_cap():
    within = next_step(
        ProviderError("rate_limited", "x", retry_after=3.0), tries=1, shown=False, policy=POLICY
    )
    beyond = next_step(
        ProviderError("rate_limited", "x", retry_after=5.5), tries=1, shown=False, policy=POLICY
    )

    assert within.retry and within.wait == 3.0
    assert not beyond.retry and "5.5 s" in beyond.why


def test_a_failure_after_text_was_shown_is_never_retried():
    step = next_step(ProviderError("dropped_stream", "cut"), tries=1, shown=True, policy=POLICY)

    assert not step.retry


def test_backoff_grows_is_capped_and_never_drops_below_half_a_step():
    waits = [POLICY.backoff(tries) for tries in (1, 2, 3, 10) for _ in range(50)]

    assert min(waits) >= 0.1
    assert max(waits) <= 2.0
    assert min(POLICY.backoff(10) for _ in range(50)) >= 1.0


def test_anthropic_continues_by_prefill_without_trailing_whitespace():
    history = (ChatMessage("user", "hi"),)

    messages = continuation_messages(history, "Once upon a ", "anthropic")

    assert messages == (*history, ChatMessage("assistant", "Once upon a"))


@pytest.mark.parametrize("kind", ["openai", "openai_compatible", "gemini"])
def test_other_apis_continue_from_an_assistant_turn_and_an_instruction(kind):
    history = (ChatMessage("user", "hi"),)

    messages = continuation_messages(history, "Once upon a ", kind)

    assert messages == (
        *history,
        ChatMessage("assistant", "Once upon a "),
        ChatMessage("user", CONTINUE_INSTRUCTION),
    )


def test_a_retry_of_the_same_model_is_not_a_fallback_but_another_model_is():
    retried = ChainResult(
        answered_by="a", attempts=[{"model": "a", "ok": False}, {"model": "a", "ok": True}]
    )
    fell_back = ChainResult(
        answered_by="b", attempts=[{"model": "a", "ok": False}, {"model": "b", "ok": True}]
    )
    failed = ChainResult(answered_by=None, attempts=[{"model": "a", "ok": False}])

    assert (retried.fallback_used, fell_back.fallback_used, failed.fallback_used) == (
        False,
        True,
        False,
    )


def test_the_defaults_are_the_documented_ones():
    from django.conf import settings as django_settings

    # The values in routerweb/settings.py, not the test overrides of the other modules.
    from routerweb import settings as module

    assert (
        module.FAILOVER_MAX_ATTEMPTS_PER_MODEL,
        module.FAILOVER_BACKOFF_BASE,
        module.FAILOVER_MAX_RETRY_AFTER,
        module.FAILOVER_CONNECT_TIMEOUT,
        module.FAILOVER_FIRST_TOKEN_TIMEOUT,
        module.FAILOVER_STALL_TIMEOUT,
        module.BREAKER_FAILURE_THRESHOLD,
        module.BREAKER_WINDOW_SECONDS,
        module.BREAKER_COOLOFF_SECONDS,
    ) == (2, 0.2, 5.0, 10.0, 60.0, 30.0, 3, 60.0, 30.0)
    assert django_settings.FAILOVER_STALL_TIMEOUT == 0.3  # the test override is in force
