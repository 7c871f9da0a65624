"""A stream cut after text was shown: the next model continues it, or the answer ends cut."""

from __future__ import annotations

from providers.failover import CONTINUE_INSTRUCTION
from tests.failover.conftest import answer, candidate, sent_to

REPLY = "one two three four five six"


def last_request_to(fake, model):
    return [r for r in fake.requests if r.model == model][-1].body


async def test_a_stall_after_text_is_continued_by_the_next_model_with_prefill(fake_upstream):
    fake_upstream.script(model="primary", reply=REPLY, stall_after_chunks=2, stall_seconds=2)
    fake_upstream.script(
        model="backup", reply="three four five six", usage={"input_tokens": 30, "output_tokens": 4}
    )
    chain = [
        candidate(fake_upstream, "primary"),
        candidate(fake_upstream, "backup", kind="anthropic"),
    ]

    done = await answer(chain)

    messages = last_request_to(fake_upstream, "backup")["messages"]
    assert messages[-1] == {"role": "assistant", "content": "one two"}
    assert messages[0]["content"] == "Hello there"
    assert done.result.text == "one two three four five six"
    assert "".join(done.chunks) == done.result.text
    assert done.result.complete and done.result.error is None
    assert done.result.answered_by == "anthropic/backup"
    assert (done.result.usage.input_tokens, done.result.usage.output_tokens) == (30, 4)
    cut, continued = done.result.attempts
    assert (cut["error"], cut["streamed_chars"], cut["retried"]) == (
        "timeout",
        len("one two "),
        False,
    )
    assert continued["ok"] and continued["continuation"]
    assert sent_to(fake_upstream, "primary") == 1, "a model that showed text is never retried"


async def test_an_openai_style_model_continues_from_an_assistant_turn_and_an_instruction(
    fake_upstream,
):
    fake_upstream.script(model="primary", reply=REPLY, drop_after_chunks=3)
    fake_upstream.script(model="backup", reply="four five six")
    chain = [
        candidate(fake_upstream, "primary", kind="anthropic"),
        candidate(fake_upstream, "backup"),
    ]

    done = await answer(chain)

    messages = last_request_to(fake_upstream, "backup")["messages"]
    assert messages[-2] == {"role": "assistant", "content": "one two three "}
    assert messages[-1] == {"role": "user", "content": CONTINUE_INSTRUCTION}
    assert done.result.text == "one two three four five six"
    assert done.tried() == [("anthropic/primary", "dropped_stream"), ("openai/backup", None)]


async def test_a_refused_continuation_shows_the_original_failure(fake_upstream):
    fake_upstream.script(model="primary", reply=REPLY, stall_after_chunks=2, stall_seconds=2)
    fake_upstream.script(model="backup", reject_prefill=True)
    chain = [
        candidate(fake_upstream, "primary"),
        candidate(fake_upstream, "backup", kind="anthropic"),
    ]

    done = await answer(chain)

    assert done.result.text == "one two "
    assert not done.result.complete
    assert done.result.error.kind == "timeout", "the refusal must not replace the real failure"
    assert done.tried() == [("openai/primary", "timeout"), ("anthropic/backup", "bad_request")]
    assert done.result.attempts[1]["status_code"] == 400
    assert done.result.usage is None, "a cut answer has no billed usage"
    assert done.result.answered_by == "openai/primary", "whose text is on screen"


async def test_a_cut_with_no_model_left_ends_incomplete_with_the_cut(fake_upstream):
    fake_upstream.script(model="primary", reply=REPLY, drop_after_chunks=2)

    done = await answer([candidate(fake_upstream, "primary")])

    assert (done.result.text, done.result.complete) == ("one two ", False)
    assert done.result.error.kind == "dropped_stream"
    assert sent_to(fake_upstream, "primary") == 1


async def test_a_model_that_cannot_continue_is_passed_over_for_one_that_can(fake_upstream):
    fake_upstream.script(model="primary", reply=REPLY, drop_after_chunks=2)
    chain = [
        candidate(fake_upstream, "primary"),
        candidate(fake_upstream, "literal", supports_continuation=False),
        candidate(fake_upstream, "backup", kind="anthropic"),
    ]

    done = await answer(chain)

    assert sent_to(fake_upstream, "literal") == 0
    assert done.tried() == [
        ("openai/primary", "dropped_stream"),
        ("openai/literal", "no_continuation"),
        ("anthropic/backup", None),
    ]
    assert done.result.complete


async def test_a_malformed_chunk_is_treated_as_a_cut_and_continued(fake_upstream):
    fake_upstream.script(model="primary", reply=REPLY, malformed_chunk_at=2)
    fake_upstream.script(model="backup", reply="three four five six")
    chain = [
        candidate(fake_upstream, "primary"),
        candidate(fake_upstream, "backup", kind="anthropic"),
    ]

    done = await answer(chain)

    assert done.tried() == [("openai/primary", "dropped_stream"), ("anthropic/backup", None)]
    assert "malformed" in done.result.attempts[0]["message"]
    assert last_request_to(fake_upstream, "backup")["messages"][-1]["content"] == "one two"
    assert done.result.text == "one two three four five six" and done.result.complete


async def test_a_malformed_first_chunk_is_retried_like_a_reset(fake_upstream):
    fake_upstream.script(model="primary", reply=REPLY)
    fake_upstream.script(model="primary", times=1, reply=REPLY, malformed_chunk_at=0)  # newest wins

    done = await answer([candidate(fake_upstream, "primary", kind="anthropic")])

    assert done.tried() == [("anthropic/primary", "dropped_stream"), ("anthropic/primary", None)]
    assert done.result.text == REPLY and done.result.complete


async def test_a_stream_without_its_end_marker_is_complete_with_usage(fake_upstream):
    fake_upstream.script(
        reply=REPLY, omit_end_marker=True, usage={"input_tokens": 11, "output_tokens": 6}
    )

    for kind in ("openai", "anthropic"):
        done = await answer([candidate(fake_upstream, f"{kind}-model", kind=kind)])

        assert done.result.text == REPLY and done.result.complete, kind
        usage = done.result.usage
        assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (11, 6, False), kind
        assert done.elapsed < 0.3, "finished at once, not at the stall limit"
