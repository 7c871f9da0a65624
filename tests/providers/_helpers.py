"""Small helpers shared by the provider tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

from providers.adapters.base import ProviderError, StreamEvent, TextDelta, Usage

SDK_KINDS = ("openai", "anthropic", "gemini")

# A real 1x1 PNG, so image payloads are the bytes a browser would upload.
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


async def collect(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in events]


async def stream_until_error(
    events: AsyncIterator[StreamEvent],
) -> tuple[list[StreamEvent], ProviderError]:
    """The events yielded before the stream failed, and the failure. Fails if it did not fail."""
    seen: list[StreamEvent] = []
    try:
        async for event in events:
            seen.append(event)
    except ProviderError as exc:
        return seen, exc
    raise AssertionError(f"the stream finished without an error: {seen!r}")


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def usages(events: list[StreamEvent]) -> list[Usage]:
    return [e for e in events if isinstance(e, Usage)]
