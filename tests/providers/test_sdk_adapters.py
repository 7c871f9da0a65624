"""Behaviour every SDK adapter shares, checked through each official SDK against the fake."""

from __future__ import annotations

import pytest

from providers.adapters.base import ChatMessage, ChatRequest, ProviderError, TextDelta, Usage
from tests.providers._helpers import SDK_KINDS, collect, stream_until_error, text_of, usages

pytestmark = pytest.mark.parametrize("kind", SDK_KINDS)

HELLO = ChatRequest(
    model="fake-small",
    messages=(ChatMessage("user", "Please summarise the quarterly report for me"),),
)
EXPECTED_REPLY = "Fake reply from fake-small: Please summarise the quarterly report for me"


# --- Success paths -------------------------------------------------------------------------


async def test_it_completes_with_the_provider_usage(kind, make_adapter, fake_upstream):
    fake_upstream.script(usage={"input_tokens": 42, "output_tokens": 7})

    completion = await make_adapter(kind).complete(HELLO)

    assert completion.text == EXPECTED_REPLY
    assert completion.usage == Usage(42, 7, estimated=False)


async def test_it_streams_text_in_order_and_ends_with_one_usage(kind, make_adapter, fake_upstream):
    fake_upstream.script(usage={"input_tokens": 42, "output_tokens": 7})

    events = await collect(make_adapter(kind).stream(HELLO))

    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 3  # really streamed, not one blob
    assert text_of(events) == EXPECTED_REPLY
    assert events[-1] == Usage(42, 7, estimated=False)
    assert usages(events) == [events[-1]]


async def test_it_estimates_usage_when_the_provider_reports_none(kind, make_adapter, fake_upstream):
    fake_upstream.script(usage=None)

    events = await collect(make_adapter(kind).stream(HELLO))
    completion = await make_adapter(kind).complete(HELLO)

    for usage in (events[-1], completion.usage):
        assert isinstance(usage, Usage)
        assert usage.estimated is True
        assert usage.input_tokens > 0
        assert usage.output_tokens == -(-len(EXPECTED_REPLY) // 4)


async def test_it_answers_a_structured_choice_with_the_chosen_value(
    kind, make_adapter, fake_upstream
):
    request = ChatRequest(
        model="fake-small", messages=HELLO.messages, choices=("legal", "code", "none")
    )
    fake_upstream.script(reply="code")

    completion = await make_adapter(kind).complete(request)
    events = await collect(make_adapter(kind).stream(request))

    assert completion.text == "code"
    assert text_of(events) == "code"
    assert isinstance(events[-1], Usage)


async def test_a_stream_without_its_end_marker_finishes_cleanly_with_usage(
    kind, make_adapter, fake_upstream
):
    fake_upstream.script(omit_end_marker=True, usage={"input_tokens": 5, "output_tokens": 9})

    events = await collect(make_adapter(kind).stream(HELLO))

    assert text_of(events) == EXPECTED_REPLY
    assert isinstance(events[-1], Usage)
    assert events[-1].input_tokens == 5


async def test_a_stream_that_ends_without_saying_it_is_finished_was_cut_short(
    kind, make_adapter, fake_upstream
):
    # The body ends cleanly after three words, with no finish reason and no end marker: a
    # server or proxy gave up mid-answer. Those words are not a whole answer.
    fake_upstream.script(end_after_chunks=3)

    seen, error = await stream_until_error(make_adapter(kind).stream(HELLO))

    assert text_of(seen) == "Fake reply from "
    assert error.kind == "dropped_stream" and "cut short" in error.message
    assert not usages(seen), "no usage: the stream did not finish"


async def test_a_stall_shorter_than_the_read_timeout_is_only_slow(
    kind, make_adapter, fake_upstream
):
    fake_upstream.script(stall_after_chunks=2, stall_seconds=0.2)

    events = await collect(make_adapter(kind, read_timeout=5.0).stream(HELLO))

    assert text_of(events) == EXPECTED_REPLY


async def test_it_makes_exactly_one_request_per_call_because_sdk_retries_are_off(
    kind, make_adapter, fake_upstream
):
    fake_upstream.script(status=503)

    with pytest.raises(ProviderError):
        await make_adapter(kind).complete(HELLO)

    assert len([r for r in fake_upstream.requests if r.provider == kind]) == 1


# --- HTTP error statuses -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "auth"),
        (403, "auth"),
        (429, "rate_limited"),
        (400, "bad_request"),
        (500, "unavailable"),
        (503, "unavailable"),
        (529, "unavailable"),
    ],
)
async def test_it_maps_an_error_status_to_its_kind(
    kind, status, expected, make_adapter, fake_upstream
):
    fake_upstream.script(status=status)

    with pytest.raises(ProviderError) as complete_error:
        await make_adapter(kind).complete(HELLO)
    _, stream_error = await stream_until_error(make_adapter(kind).stream(HELLO))

    for error in (complete_error.value, stream_error):
        assert error.kind == expected
        assert error.status_code == status
        assert error.retryable is (expected in {"rate_limited", "unavailable"})


async def test_a_rate_limit_carries_the_retry_after_header(kind, make_adapter, fake_upstream):
    fake_upstream.script(status=429, retry_after=17)

    with pytest.raises(ProviderError) as error:
        await make_adapter(kind).complete(HELLO)

    assert error.value.kind == "rate_limited"
    assert error.value.retry_after == 17.0


async def test_a_rate_limit_without_retry_after_says_none(kind, make_adapter, fake_upstream):
    fake_upstream.script(status=429)

    with pytest.raises(ProviderError) as error:
        await make_adapter(kind).complete(HELLO)

    assert error.value.retry_after is None


async def test_a_context_length_error_is_context_too_long(kind, make_adapter, fake_upstream):
    fake_upstream.script(error_code="context_length_exceeded")

    with pytest.raises(ProviderError) as error:
        await make_adapter(kind).complete(HELLO)
    _, stream_error = await stream_until_error(make_adapter(kind).stream(HELLO))

    for exc in (error.value, stream_error):
        assert exc.kind == "context_too_long"
        assert exc.retryable is False


async def test_a_content_policy_refusal_is_content_filter(kind, make_adapter, fake_upstream):
    fake_upstream.script(error_code="content_filter")

    with pytest.raises(ProviderError) as error:
        await make_adapter(kind).complete(HELLO)
    _, stream_error = await stream_until_error(make_adapter(kind).stream(HELLO))

    for exc in (error.value, stream_error):
        assert exc.kind == "content_filter"
        assert exc.retryable is False


async def test_a_continuation_rejected_by_the_server_is_bad_request(
    kind, make_adapter, fake_upstream
):
    fake_upstream.script(reject_prefill=True)
    prefill = ChatRequest(
        model="fake-small",
        messages=(ChatMessage("user", "Write a haiku"), ChatMessage("assistant", "Autumn")),
    )

    with pytest.raises(ProviderError) as error:
        await make_adapter(kind).complete(prefill)
    plain = await make_adapter(kind).complete(HELLO)

    assert error.value.kind == "bad_request"
    assert plain.text == EXPECTED_REPLY  # the switch only rejects continuations


# --- Transport failures --------------------------------------------------------------------


async def test_no_first_byte_before_the_read_timeout_is_a_timeout(
    kind, make_adapter, fake_upstream
):
    # The upstream sends nothing until the client hangs up: only the read timeout ends this.
    fake_upstream.script(delay_first_byte="forever")

    with pytest.raises(ProviderError) as complete_error:
        await make_adapter(kind, read_timeout=0.2).complete(HELLO)
    _, stream_error = await stream_until_error(make_adapter(kind, read_timeout=0.2).stream(HELLO))

    assert complete_error.value.kind == "timeout"
    assert stream_error.kind == "timeout"


async def test_a_slow_first_token_after_the_headers_is_a_timeout(kind, make_adapter, fake_upstream):
    fake_upstream.script(slow_first_token="forever")

    seen, error = await stream_until_error(make_adapter(kind, read_timeout=0.2).stream(HELLO))

    assert error.kind == "timeout"
    assert text_of(seen) == ""


async def test_a_stall_longer_than_the_read_timeout_is_a_timeout_after_the_text_so_far(
    kind, make_adapter, fake_upstream
):
    fake_upstream.script(stall_after_chunks=3, stall_seconds="forever")

    # The limit is a real socket read timeout, and the three chunks before the stall must each
    # arrive within it: 1 s (0.2 s was once outrun by a loaded machine between two chunks).
    seen, error = await stream_until_error(make_adapter(kind, read_timeout=1.0).stream(HELLO))

    assert error.kind == "timeout"
    assert text_of(seen) == "Fake reply from "


async def test_a_connection_closed_before_any_response_is_unavailable(
    kind, make_adapter, fake_upstream
):
    fake_upstream.script(reset_before_headers=True)

    with pytest.raises(ProviderError) as complete_error:
        await make_adapter(kind).complete(HELLO)
    _, stream_error = await stream_until_error(make_adapter(kind).stream(HELLO))

    assert complete_error.value.kind == "unavailable"
    assert stream_error.kind == "unavailable"


async def test_a_connection_dropped_mid_stream_is_a_dropped_stream_after_the_text_so_far(
    kind, make_adapter, fake_upstream
):
    fake_upstream.script(drop_after_chunks=4)

    seen, error = await stream_until_error(make_adapter(kind).stream(HELLO))

    assert error.kind == "dropped_stream"
    assert error.retryable is True
    assert text_of(seen) == "Fake reply from fake-small: "
    assert usages(seen) == []  # no Usage after a failure


async def test_a_malformed_chunk_ends_the_stream_as_dropped_after_the_text_so_far(
    kind, make_adapter, fake_upstream
):
    # None of the SDKs can skip a bad SSE event (see the adapters' docstrings).
    fake_upstream.script(malformed_chunk_at=2)

    seen, error = await stream_until_error(make_adapter(kind).stream(HELLO))

    assert error.kind == "dropped_stream"
    assert "malformed" in error.message
    assert text_of(seen) == "Fake reply "


async def test_a_refused_connection_is_unavailable(kind, make_adapter, fake_upstream):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base_url = fake_upstream.base_url(kind).replace(str(fake_upstream.port), str(port))

    with pytest.raises(ProviderError) as error:
        await make_adapter(kind, base_url=base_url).complete(HELLO)

    assert error.value.kind == "unavailable"


async def test_a_corrupt_non_streamed_body_is_a_retryable_provider_error(
    kind, make_adapter, fake_upstream
):
    # Not a bare JSONDecodeError escaping the adapter (that would be a 500 on /v1).
    fake_upstream.script(malformed_chunk_at=2)

    with pytest.raises(ProviderError) as caught:
        await make_adapter(kind).complete(HELLO)

    assert caught.value.kind == "dropped_stream" and caught.value.retryable
    assert "malformed" in caught.value.message
