"""An answer cut after text reached the client: continued only when verifiably a continuation,
else ended *cut off* — never spliced. And with nothing shown yet, a clean restart."""

from __future__ import annotations

import dataclasses

import pytest

from providers.failover import ANCHOR_CLOSE, ANCHOR_OPEN, Policy
from tests.failover.conftest import answer, candidate, sent_to

REPLY = "The quick brown fox jumps over the lazy dog and then runs far away from the farm"
SHOWN = "The quick brown fox jumps over the lazy "  # the first 8 words, as streamed


def last_request_to(fake, model):
    return [r for r in fake.requests if r.model == model][-1]


def outcomes(done):
    return [(a["model"], a["outcome"]) for a in done.result.attempts]


# -- nothing reached the client: a clean restart --------------------------------------------


@pytest.mark.parametrize("fault", [{"drop_after_chunks": 8}, {"stall_after_chunks": 8}])
async def test_a_buffered_answer_cut_midway_restarts_cleanly_on_the_next_model(
    fake_upstream, fault
):
    fake_upstream.script(model="primary", reply=REPLY, **fault)
    fake_upstream.script(model="backup", reply="A whole answer from the backup.")
    chain = [candidate(fake_upstream, "primary"), candidate(fake_upstream, "backup")]

    done = await answer(chain, delivery="buffered")

    assert done.chunks == [], "nothing is streamed"
    assert done.result.text == "A whole answer from the backup.", "never a splice"
    assert done.result.complete and done.result.models == ["openai/backup"]
    last = last_request_to(fake_upstream, "backup").body["messages"]
    assert last[-1]["role"] == "user", "the backup got the plain conversation, no partial answer"
    assert outcomes(done)[-1] == ("openai/backup", "restarted")


async def test_a_buffered_answer_cut_once_is_retried_on_the_same_model(fake_upstream):
    fake_upstream.script(model="primary", reply=REPLY)
    fake_upstream.script(model="primary", times=1, reply=REPLY, drop_after_chunks=4)

    done = await answer([candidate(fake_upstream, "primary")], delivery="buffered")

    assert done.result.text == REPLY and done.result.complete
    assert outcomes(done) == [("openai/primary", "retried"), ("openai/primary", "answered")]
    # Buffered answers are asked for without streaming: the cut body gave no text to bill.
    assert not last_request_to(fake_upstream, "primary").body.get("stream")
    assert done.result.attempts[0]["usage"] is None


# -- text reached the client: a verified continuation ---------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"drop_after_chunks": 8},  # the connection is cut
        {"stall_after_chunks": 8},  # the stream stalls (forever)
        {"malformed_chunk_at": 8},  # a chunk that is not JSON
    ],
    ids=["cut", "stall", "malformed"],
)
async def test_anthropic_continues_a_cut_answer_by_prefill(fake_upstream, fault):
    fake_upstream.script(model="primary", reply=REPLY, **fault)
    fake_upstream.script(
        model="backup",
        reply=REPLY,
        on_continue="continue",
        usage={"input_tokens": 30, "output_tokens": 8},
    )
    chain = [
        candidate(fake_upstream, "primary"),
        candidate(fake_upstream, "backup", kind="anthropic"),
    ]

    done = await answer(chain)

    messages = last_request_to(fake_upstream, "backup").body["messages"]
    # The prefill leaves out the last two words shown: the model writes them again first.
    assert messages[-1] == {"role": "assistant", "content": "The quick brown fox jumps over"}
    assert messages[0]["content"] == "Hello there"
    assert done.result.text == REPLY and "".join(done.chunks) == REPLY
    assert done.result.complete and not done.result.cut_off and done.result.error is None
    assert done.result.models == ["openai/primary", "anthropic/backup"]
    assert outcomes(done) == [("openai/primary", "cut_off"), ("anthropic/backup", "continued")]
    assert sent_to(fake_upstream, "primary") == 1, "a model that showed text is never retried"


@pytest.mark.parametrize("kind", ["openai", "openai_compatible", "gemini"])
async def test_other_kinds_continue_from_the_last_words_shown_which_are_stripped(
    fake_upstream, kind
):
    fake_upstream.script(model="primary", reply=REPLY, drop_after_chunks=8)
    fake_upstream.script(model="backup", reply=REPLY, on_continue="continue")
    chain = [
        candidate(fake_upstream, "primary", kind="anthropic"),
        candidate(fake_upstream, "backup", kind=kind),
    ]

    done = await answer(chain)

    instruction = str(last_request_to(fake_upstream, "backup").body)
    assert f"{ANCHOR_OPEN}brown fox jumps over the lazy{ANCHOR_CLOSE}" in instruction
    assert done.result.text == REPLY and "".join(done.chunks) == REPLY
    assert done.result.complete and done.result.models == [
        "anthropic/primary",
        f"{kind}/backup",
    ]


async def test_a_verified_overlap_is_stripped(fake_upstream):
    fake_upstream.script(model="primary", reply=REPLY, drop_after_chunks=8)
    fake_upstream.script(model="backup", reply=REPLY, on_continue="overlap")
    chain = [
        candidate(fake_upstream, "primary"),
        candidate(fake_upstream, "backup", kind="anthropic"),
    ]

    done = await answer(chain)

    assert done.result.text == REPLY and done.result.complete


async def test_a_fallback_that_rejects_the_prefill_is_asked_again_by_instruction(fake_upstream):
    fake_upstream.script(model="primary", reply=REPLY, stall_after_chunks=8)
    fake_upstream.script(model="backup", reply=REPLY, on_continue="continue", reject_prefill=True)
    chain = [
        candidate(fake_upstream, "primary"),
        candidate(fake_upstream, "backup", kind="anthropic"),
    ]

    done = await answer(chain)

    assert outcomes(done) == [
        ("openai/primary", "cut_off"),
        ("anthropic/backup", "prefill_rejected"),
        ("anthropic/backup", "continued"),
    ]
    assert done.result.attempts[1]["status_code"] == 400
    assert done.result.text == REPLY and done.result.complete


@pytest.mark.parametrize(
    ("kind", "how"),
    [
        ("anthropic", "restart"),  # starts the answer over
        ("anthropic", "repeat"),  # a preamble, then the shown text again
        ("anthropic", "ignore"),  # ignores the prefill: a fresh answer, no word left out
        ("openai", "restart"),
        ("openai", "ignore"),  # answers afresh, ignoring the request to continue
        ("gemini", "ignore"),
    ],
)
async def test_a_fallback_that_does_not_continue_ends_the_answer_cut_off(fake_upstream, kind, how):
    fake_upstream.script(model="primary", reply=REPLY, drop_after_chunks=8)
    fake_upstream.script(model="backup", reply=REPLY, on_continue=how)
    chain = [candidate(fake_upstream, "primary"), candidate(fake_upstream, "backup", kind=kind)]

    done = await answer(chain)

    assert done.result.text == SHOWN and "".join(done.chunks) == SHOWN, "nothing spliced on"
    assert not done.result.complete and done.result.cut_off
    assert done.result.error.kind == "dropped_stream", "the failure that cut it, not the check"
    assert outcomes(done) == [("openai/primary", "cut_off"), (f"{kind}/backup", "not_continued")]
    assert done.result.models == ["openai/primary"]
    assert done.result.attempts[1]["usage"] is not None, "its tokens are still paid for"


async def test_after_a_rejected_continuation_the_next_model_may_still_continue(fake_upstream):
    fake_upstream.script(model="primary", reply=REPLY, drop_after_chunks=8)
    fake_upstream.script(model="restarter", reply=REPLY, on_continue="restart")
    fake_upstream.script(model="backup", reply=REPLY, on_continue="continue")
    chain = [
        candidate(fake_upstream, "primary"),
        candidate(fake_upstream, "restarter"),
        candidate(fake_upstream, "backup", kind="anthropic"),
    ]

    done = await answer(chain)

    assert outcomes(done) == [
        ("openai/primary", "cut_off"),
        ("openai/restarter", "not_continued"),
        ("anthropic/backup", "continued"),
    ]
    assert done.result.text == REPLY and done.result.complete


async def test_a_cut_with_no_model_left_ends_cut_off_with_the_cut(fake_upstream):
    fake_upstream.script(model="primary", reply=REPLY, stall_after_chunks=2)

    done = await answer([candidate(fake_upstream, "primary")])

    assert (done.result.text, done.result.complete, done.result.cut_off) == (
        "The quick ",
        False,
        True,
    )
    assert done.result.error.kind == "timeout"
    assert sent_to(fake_upstream, "primary") == 1


async def test_a_router_may_turn_continuation_off(fake_upstream):
    fake_upstream.script(model="primary", reply=REPLY, drop_after_chunks=8)
    chain = [
        candidate(fake_upstream, "primary"),
        candidate(fake_upstream, "backup", kind="anthropic"),
    ]
    policy = dataclasses.replace(Policy.current(), continue_cut_answers=False)

    done = await answer(chain, policy=policy)

    assert sent_to(fake_upstream, "backup") == 0
    assert done.result.cut_off and done.result.text == SHOWN


async def test_a_refusal_after_text_ends_cut_off_without_rerouting(fake_upstream):
    # Anthropic's refusal arrives as stop_reason "refusal" at the end of the stream.
    fake_upstream.script(model="primary", reply=REPLY, drop_after_chunks=8)
    fake_upstream.script(model="backup", error_code="content_filter")
    chain = [
        candidate(fake_upstream, "primary"),
        candidate(fake_upstream, "backup", kind="anthropic"),
        candidate(fake_upstream, "third", kind="anthropic"),
    ]

    done = await answer(chain)

    assert done.result.cut_off and sent_to(fake_upstream, "third") == 0
    assert done.result.attempts[1]["error"] == "content_filter"


async def test_usage_adds_up_every_attempt(fake_upstream):
    fake_upstream.script(model="primary", reply=REPLY, drop_after_chunks=8)
    fake_upstream.script(
        model="backup",
        reply=REPLY,
        on_continue="continue",
        usage={"input_tokens": 30, "output_tokens": 8},
    )
    chain = [
        candidate(fake_upstream, "primary"),
        candidate(fake_upstream, "backup", kind="anthropic"),
    ]

    done = await answer(chain)

    (first, cut), (second, cont) = done.result.usage_by_model()
    assert (first, second) == ("openai/primary", "anthropic/backup")
    assert cut.estimated and cut.output_tokens > 0
    assert (cont.input_tokens, cont.output_tokens, cont.estimated) == (30, 8, False)
    total = done.result.usage
    assert (total.input_tokens, total.output_tokens) == (
        cut.input_tokens + 30,
        cut.output_tokens + 8,
    )
    assert total.estimated


# -- what already worked ---------------------------------------------------------------------


async def test_a_malformed_first_chunk_is_retried_like_a_reset(fake_upstream):
    fake_upstream.script(model="primary", reply=REPLY)
    fake_upstream.script(model="primary", times=1, reply=REPLY, malformed_chunk_at=0)  # newest wins

    done = await answer([candidate(fake_upstream, "primary", kind="anthropic")])

    assert done.tried() == [("anthropic/primary", "dropped_stream"), ("anthropic/primary", None)]
    assert done.result.text == REPLY and done.result.complete


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
async def test_a_stream_without_its_end_marker_is_complete_with_usage(fake_upstream, clock, kind):
    fake_upstream.script(
        reply=REPLY, omit_end_marker=True, usage={"input_tokens": 11, "output_tokens": 6}
    )

    done = await answer([candidate(fake_upstream, f"{kind}-model", kind=kind)])

    assert done.result.text == REPLY and done.result.complete
    usage = done.result.usage
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (11, 6, False)
    assert clock.fired == [], "finished at the end of the body, not at the stall limit"


async def test_an_answer_cut_earlier_can_be_resumed_by_a_model_that_continues_it(fake_upstream):
    fake_upstream.script(model="backup", reply=REPLY, on_continue="continue")

    done = await answer([candidate(fake_upstream, "backup")], resume=SHOWN)

    assert done.result.text == REPLY and done.result.complete
    assert "".join(done.chunks) == REPLY[len(SHOWN) :], "the shown text is not sent again"
    assert outcomes(done) == [("openai/backup", "continued")]


async def test_a_resumed_answer_that_is_not_continued_stays_cut_off(fake_upstream):
    fake_upstream.script(model="backup", reply=REPLY, on_continue="restart")

    done = await answer([candidate(fake_upstream, "backup", kind="anthropic")], resume=SHOWN)

    assert done.result.text == SHOWN and done.result.cut_off and not done.result.complete
    assert done.chunks == []
