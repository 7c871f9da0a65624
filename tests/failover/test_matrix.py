"""Every failure class of the policy table, on every provider kind, streamed and buffered.

Each case scripts the first model of a two-model chain (the second always answers) and checks
what the chain did: how many requests each model got, each attempt's outcome, and that the
answer is either one model's whole answer or an honest failure — never a splice. The failing
model's kind varies (its SDK classifies the failure); the backup is always OpenAI."""

from __future__ import annotations

import pytest

from tests.failover.conftest import answer, candidate, sent_to

KINDS = ["openai", "anthropic", "gemini", "openai_compatible"]
DELIVERIES = ["stream", "buffered"]
BACKUP = "A whole answer from the backup."
REPLY = "The quick brown fox jumps over the lazy dog and then runs far away from the farm"

# class → (switches for the first model, requests it gets, its attempts' outcomes, then:
#          "backup" = the backup restarts the answer; "end" = the chain ends with that error)
PRE_TEXT_CASES = {
    "429 then fine (Retry-After)": (
        {"status": 429, "retry_after": 1, "times": 1},
        2,
        ["retried", "answered"],
        "self",
    ),
    "429 persistent": ({"status": 429}, 2, ["retried", "failed_over"], "backup"),
    "503 persistent": ({"status": 503}, 2, ["retried", "failed_over"], "backup"),
    "one 500": ({"status": 500, "times": 1}, 2, ["retried", "answered"], "self"),
    "connection reset": ({"reset_before_headers": True}, 2, ["retried", "failed_over"], "backup"),
    "no response": ({"delay_first_byte": "forever"}, 1, ["failed_over"], "backup"),
    "auth error": ({"status": 401}, 1, ["failed_over"], "backup"),
    "context too long": (
        {"error_code": "context_length_exceeded"},
        1,
        ["failed_over"],
        "backup",
    ),
    "content refusal": ({"error_code": "content_filter"}, 1, ["failed_over"], "end"),
    "missing end marker": ({"omit_end_marker": True, "reply": REPLY}, 1, ["answered"], "self"),
}


@pytest.mark.parametrize("delivery", DELIVERIES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(PRE_TEXT_CASES))
async def test_a_failure_before_any_text(fake_upstream, clock, case, kind, delivery):
    switches, requests, outcomes, then = PRE_TEXT_CASES[case]
    switches = dict(switches)
    times = switches.pop("times", None)
    fake_upstream.script(model="first", reply=REPLY)
    fake_upstream.script(model="first", times=times, **switches)
    fake_upstream.script(model="backup", reply=BACKUP)
    chain = [candidate(fake_upstream, "first", kind=kind), candidate(fake_upstream, "backup")]

    done = await answer(chain, delivery=delivery)

    first = [a for a in done.result.attempts if a["model"] == f"{kind}/first"]
    assert sent_to(fake_upstream, "first") == requests
    assert [a["outcome"] for a in first] == outcomes
    if then == "self":
        assert done.result.complete and done.result.text == REPLY
        assert done.result.models == [f"{kind}/first"]
        assert sent_to(fake_upstream, "backup") == 0
    elif then == "backup":
        assert done.result.complete and done.result.text == BACKUP, "a clean restart"
        assert done.result.models == ["openai/backup"]
    else:
        assert not done.result.complete and done.result.error.kind == "content_filter"
        assert sent_to(fake_upstream, "backup") == 0, "a refusal is not routed around"
        assert done.result.text == "" and not done.result.cut_off
    assert "".join(done.chunks) == (done.result.text if delivery == "stream" else "")
    if "Retry-After" in case:
        assert clock.sleeps == [1.0]


MID_STREAM_CASES = {
    "cut": {"drop_after_chunks": 8},
    "stall": {"stall_after_chunks": 8},
    "malformed chunk": {"malformed_chunk_at": 8},
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(MID_STREAM_CASES))
async def test_a_failure_after_text_streamed_is_continued_or_ends_cut_off(
    fake_upstream, case, kind
):
    fake_upstream.script(model="first", reply=REPLY, **MID_STREAM_CASES[case])
    fake_upstream.script(model="backup", reply=REPLY, on_continue="restart")
    chain = [candidate(fake_upstream, "first", kind=kind), candidate(fake_upstream, "backup")]

    done = await answer(chain)

    assert done.result.text == "The quick brown fox jumps over the lazy " == "".join(done.chunks)
    assert done.result.cut_off and not done.result.complete
    assert [a["outcome"] for a in done.result.attempts] == ["cut_off", "not_continued"]
    assert sent_to(fake_upstream, "first") == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(MID_STREAM_CASES))
async def test_a_failure_midway_through_a_buffered_answer_restarts_cleanly(
    fake_upstream, case, kind
):
    fake_upstream.script(model="first", reply=REPLY, **MID_STREAM_CASES[case])
    fake_upstream.script(model="backup", reply=BACKUP)
    chain = [candidate(fake_upstream, "first", kind=kind), candidate(fake_upstream, "backup")]

    done = await answer(chain, delivery="buffered")

    assert done.result.text == BACKUP and done.result.complete
    assert done.result.models == ["openai/backup"]
    assert [a["outcome"] for a in done.result.attempts][-1] == "restarted"
