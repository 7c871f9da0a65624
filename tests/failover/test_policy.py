"""The policy's decisions on their own: what is retried, how long it waits, how it continues."""

from __future__ import annotations

import dataclasses

import pytest

from providers.adapters.base import ChatMessage, ProviderError
from providers.adapters.registry import supports_prefill
from providers.failover import (
    FAILURE_POLICY,
    ChainResult,
    Policy,
    check_continuation,
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


def test_a_prefill_leaves_out_the_last_words_shown_and_ends_without_whitespace():
    history = (ChatMessage("user", "hi"),)

    messages = continuation_messages(history, "Once upon a time ", prefill=True)

    assert messages == (*history, ChatMessage("assistant", "Once upon"))
    # At least one word is always prefilled.
    assert continuation_messages(history, "Once ", prefill=True)[-1].text == "Once"
    assert continuation_messages(history, "Once upon", prefill=True)[-1].text == "Once"


def test_without_prefill_the_instruction_quotes_the_last_words_shown():
    history = (ChatMessage("user", "hi"),)
    partial = "The quick brown fox jumps over the lazy "

    messages = continuation_messages(history, partial, prefill=False)

    assert messages[:-1] == (*history, ChatMessage("assistant", partial))
    assert messages[-1].role == "user"
    assert "⟦jumps over the lazy⟧" not in messages[-1].text
    assert "⟦brown fox jumps over the lazy⟧" in messages[-1].text


@pytest.mark.parametrize(
    ("kind", "prefill"),
    [("anthropic", True), ("demo", True), ("openai", False), ("openai_compatible", False)]
    + [("gemini", False)],
)
def test_which_kinds_continue_by_prefill(kind, prefill):
    assert supports_prefill(kind) is prefill


SHOWN = "The capital of France is Paris. It has been the capital since "


@pytest.mark.parametrize(
    ("head", "anchored", "verdict", "rest"),
    [
        # A prefill continuation: the prefill left out the last two words shown ("capital
        # since"); the model writes them first, and they are stripped.
        (
            "capital since the tenth century, give or take.",
            False,
            True,
            "the tenth century, give or take.",
        ),
        # It starts over.
        ("The capital of France is Paris. It is also", False, False, "started the answer over"),
        # It ignores the prefill and answers afresh.
        ("Paris is the capital of France.", False, False, "answered afresh"),
        # A preamble, then the shown text again: not the words the prefill left out either.
        ("Sure! The capital of France is Paris. It has been", False, False, "answered afresh"),
        # A longer verified overlap (more of the last words again) is stripped.
        ("been the capital since the tenth century.", False, True, "the tenth century."),
        # The left-out words, then one repeated word: "since since" may be the model's own.
        ("capital since since the 10th century.", False, True, "since the 10th century."),
        # Asked to begin with the last words: it does, and they are stripped.
        ("It has been the capital since the tenth century.", True, True, "the tenth century."),
        # Asked to, but it answers afresh (ignored the request).
        ("Paris is the capital of France.", True, False, "did not pick up"),
        # Begins with the quoted words, then starts over.
        (
            "It has been the capital since The capital of France is Paris. It has",
            True,
            False,
            "repeated",
        ),
    ],
)
def test_a_continuation_is_checked_against_what_was_shown(head, anchored, verdict, rest):
    check = check_continuation(SHOWN, head, anchored=anchored, final=True)

    assert check is not None and check.ok is verdict
    if verdict:
        assert head[check.keep_from :].lstrip() == rest
    else:
        assert rest in check.why


def test_a_continuation_is_held_back_until_it_can_be_told_apart():
    assert check_continuation(SHOWN, "The capital", anchored=False, final=False) is None
    assert check_continuation(SHOWN, "It has been", anchored=True, final=False) is None
    assert check_continuation(SHOWN, "The capital", anchored=False, final=True).ok is False


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
    ) == (2, 0.2, 5.0, 10.0, 15.0, 20.0, 3, 60.0, 30.0)
    assert django_settings.FAILOVER_CONNECT_TIMEOUT == 5.0  # the test override is in force


def test_a_breaker_probe_is_never_retried():
    step = next_step(
        ProviderError("unavailable", "x"), tries=1, shown=False, policy=POLICY, probe=True
    )

    assert not step.retry and "single request" in step.why


def test_every_failure_kind_has_a_stated_rule_and_refusals_are_not_routed_around():
    from typing import get_args

    from providers.adapters.base import ErrorKind

    assert set(FAILURE_POLICY) == set(get_args(ErrorKind))
    assert not POLICY.rule("content_filter").fall_back
    assert dataclasses.replace(POLICY, fall_back_on_refusal=True).rule("content_filter").fall_back


def test_a_router_overrides_only_the_documented_fields(settings):
    settings.FAILOVER_FIRST_TOKEN_TIMEOUT = 15.0

    policy = Policy.current(
        {
            "first_token_timeout": 4.0,
            "max_retry_after": 99.0,
            "stall_timeout": None,
            "max_attempts": "lots",  # e.g. typed into Django admin: ignored, not a crash
        }
    )

    assert policy.first_token_timeout == 4.0
    assert policy.max_retry_after == Policy.current().max_retry_after, "not overridable"
    assert policy.stall_timeout == Policy.current().stall_timeout
    assert policy.max_attempts == Policy.current().max_attempts
