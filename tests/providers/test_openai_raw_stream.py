"""The OpenAI adapter reads the SDK's raw event stream itself (no per-chunk SDK objects)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from providers.adapters.openai import _sse_data, _stream_error


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line


async def test_event_data_is_joined_across_lines_and_other_fields_are_ignored():
    events = [
        data
        async for data in _sse_data(
            _lines(
                ": keep-alive comment",
                "event: message",
                'data: {"a":',
                "data:1}",
                "",
                "",
                "id: 7",
                "data: [DONE]",
            )
        )
    ]
    assert events == ['{"a":\n1}', "[DONE]"]


def test_an_error_event_is_a_dropped_stream_with_the_providers_message():
    error = _stream_error({"message": "overloaded", "type": "server_error"}, "Hello")
    assert error.kind == "dropped_stream" and error.retryable
    assert "overloaded" in error.message and error.partial_text == "Hello"
    assert "error occurred" in _stream_error("??", "").message
