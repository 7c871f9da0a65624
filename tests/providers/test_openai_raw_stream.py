"""The OpenAI adapter reads the SDK's raw event stream itself (no per-chunk SDK objects)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from providers.adapters.openai import _sse_batches, _stream_error


async def _reads(*reads: bytes) -> AsyncIterator[bytes]:
    for read in reads:
        yield read


async def _batches(*reads: bytes) -> list[list[str]]:
    return [batch async for batch in _sse_batches(_reads(*reads))]


async def test_event_data_is_joined_across_lines_and_other_fields_are_ignored():
    body = b': keep-alive comment\nevent: message\ndata: {"a":\ndata:1}\n\n\nid: 7\ndata: [DONE]'
    assert await _batches(body) == [['{"a":\n1}'], ["[DONE]"]]


async def test_the_events_one_read_completes_come_together_and_a_split_event_waits():
    assert await _batches(
        b'data: {"n": 1}\n\ndata: {"n": 2}\n\ndata: {"n"',
        b": 3}\n\n",
    ) == [['{"n": 1}', '{"n": 2}'], ['{"n": 3}']]


async def test_crlf_and_cr_line_endings_even_split_between_reads():
    # The first read ends inside a CRLF: nothing is complete until the second.
    assert await _batches(b"data: a\r", b"\n\r\ndata: b\r\rdata: c\r\n\r\n") == [["a", "b", "c"]]
    assert await _batches(b"data: a\r\rdata: b", b"\n\n") == [["a"], ["b"]]


async def test_a_character_split_between_reads_is_decoded_whole():
    word = "naïve".encode()
    assert await _batches(b"data: " + word[:3], word[3:] + b"\n\n") == [["naïve"]]


def test_an_error_event_is_a_dropped_stream_with_the_providers_message():
    error = _stream_error({"message": "overloaded", "type": "server_error"})
    assert error.kind == "dropped_stream" and error.retryable
    assert "overloaded" in error.message
    assert "error occurred" in _stream_error("??").message
