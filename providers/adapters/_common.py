"""Helpers the SDK adapters share: error classification, usage estimates, choice schemas.

Nothing here imports a provider SDK, so the registry stays cheap to import.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Protocol

from engine.tokens import estimate_message_tokens, estimate_tokens
from providers.adapters.base import (
    ChatRequest,
    Completion,
    ErrorKind,
    ProviderError,
    StreamEvent,
    TextDelta,
    Usage,
)

# Name of the forced tool / JSON property that carries a structured choice.
CHOICE_FIELD = "choice"
CHOICE_TOOL_NAME = "choose"

# Phrases providers and OpenAI-style servers (vLLM, llama.cpp, Ollama, OpenRouter) use when a
# request does not fit the context window; matched case-insensitively on 400/413 errors.
CONTEXT_LENGTH_PHRASES: tuple[str, ...] = (
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "context window",
    "prompt is too long",
    "exceeds the maximum number of tokens",
    "too many tokens",
)


# The OpenAI and Anthropic SDKs' telemetry headers: with every request they tell the provider
# the host's OS, CPU architecture, Python and SDK versions (`SDK_PLATFORM_HEADERS`), and the
# call's retry count and timeouts (`SDK_CALL_HEADERS`, added per call unless the call's
# own headers name them). No provider needs them, a self-hosted router has no reason to tell
# third parties what its host runs, and they were half the headers the SDK builds (and
# normalises several times over) for each call. Each SDK removes a header given its `omit`.
SDK_PLATFORM_HEADERS = (
    "X-Stainless-Lang",
    "X-Stainless-Package-Version",
    "X-Stainless-OS",
    "X-Stainless-Arch",
    "X-Stainless-Runtime",
    "X-Stainless-Runtime-Version",
    "X-Stainless-Async",
)
SDK_CALL_HEADERS = ("X-Stainless-Retry-Count", "X-Stainless-Read-Timeout", "X-Stainless-Timeout")


def omitting(names: Iterable[str], omit: object) -> dict[str, Any]:
    """Headers that make an SDK leave `names` out (`omit`: that SDK's `omit` marker)."""
    return dict.fromkeys(names, omit)


def kind_for_status(status: int) -> ErrorKind:
    """The failure kind an HTTP status implies before looking at the body."""
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "auth"
    if status == 408:
        return "timeout"
    if status >= 500:  # includes Anthropic's 529 "overloaded"
        return "unavailable"
    return "bad_request"


def mentions_context_length(*texts: object) -> bool:
    haystack = " ".join(str(t) for t in texts if t).lower()
    return any(phrase in haystack for phrase in CONTEXT_LENGTH_PHRASES)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (delta-seconds or an HTTP date)."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(email.utils.mktime_tz(parsed) - time.time(), 0.0)


def status_error(
    status: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    kind: ErrorKind | None = None,
) -> ProviderError:
    """A `ProviderError` for an HTTP error status, with Retry-After when the server sent it."""
    return ProviderError(
        kind or kind_for_status(status),
        message,
        status_code=status,
        retry_after=parse_retry_after(headers),
    )


def connection_error(message: str, *, timed_out: bool, started: bool) -> ProviderError:
    """A transport failure. Once the stream has begun, a broken connection is a dropped stream."""
    if timed_out:
        kind: ErrorKind = "timeout"
    elif started:
        kind = "dropped_stream"
    else:
        kind = "unavailable"
    return ProviderError(kind, message)


def _httpx_families() -> list[Any]:
    # The SDKs use `httpx2` (a fork under another name) or `httpx`; their exceptions do not
    # share base classes, so both families are checked.
    families = []
    for name in ("httpx", "httpx2"):
        try:
            families.append(__import__(name))
        except ImportError:
            continue
    return families


def transport_error(exc: BaseException, *, started: bool) -> ProviderError | None:
    """Classify a raw httpx/httpx2 exception that an SDK let escape (mostly mid-stream reads)."""
    for module in _httpx_families():
        if isinstance(exc, module.TimeoutException):
            return connection_error(f"Timed out: {exc}", timed_out=True, started=started)
        if isinstance(exc, module.TransportError):
            detail = str(exc) or type(exc).__name__
            return connection_error(
                f"Connection failed: {detail}",
                timed_out=False,
                started=started,
            )
    return None


def malformed_chunk_error(exc: BaseException) -> ProviderError:
    # None of the three SDKs can skip a bad SSE event: the JSON error escapes their stream
    # generator, which is then finished. The stream is unusable from there on.
    return ProviderError(
        "dropped_stream",
        f"The provider sent a malformed stream chunk: {exc}",
    )


def unfinished_stream_error(what: str) -> ProviderError:
    """A stream whose body ended (cleanly, as far as HTTP goes) without the provider saying the
    answer was finished: a server or proxy gave up mid-answer. What came is not a whole answer."""
    return ProviderError(
        "dropped_stream",
        f"The stream ended without {what}: the answer was cut short.",
    )


def estimate_input_tokens(request: ChatRequest) -> int:
    total = sum(estimate_message_tokens(m.text, len(m.images)) for m in request.messages)
    if request.system:
        total += estimate_message_tokens(request.system)
    return total


def estimate_text_tokens(texts: Iterable[str]) -> int:
    """Tokens of texts sent for embedding when the provider does not report them."""
    return sum(max(1, len(text) // 4) for text in texts)


def make_usage(
    request: ChatRequest,
    text: str,
    input_tokens: int | None,
    output_tokens: int | None,
    *,
    max_tokens_reached: bool = False,
) -> Usage:
    """Provider counts when reported; an estimate (flagged) for whatever is missing."""
    estimated = input_tokens is None or output_tokens is None
    return Usage(
        input_tokens=input_tokens if input_tokens is not None else estimate_input_tokens(request),
        output_tokens=output_tokens if output_tokens is not None else estimate_tokens(text),
        estimated=estimated,
        max_tokens_reached=max_tokens_reached,
    )


def choice_json_schema(choices: Iterable[str]) -> dict[str, Any]:
    """An object with one string property restricted to the offered choices."""
    return {
        "type": "object",
        "properties": {CHOICE_FIELD: {"type": "string", "enum": list(choices)}},
        "required": [CHOICE_FIELD],
        "additionalProperties": False,
    }


def fields_json_schema(fields: Iterable[tuple[str, Iterable[str]]]) -> dict[str, Any]:
    """An object with one required string property per field, each restricted to its values."""
    fields = list(fields)
    return {
        "type": "object",
        "properties": {name: {"type": "string", "enum": list(values)} for name, values in fields},
        "required": [name for name, _ in fields],
        "additionalProperties": False,
    }


class _Completes(Protocol):
    async def complete(self, request: ChatRequest) -> Completion: ...


async def stream_by_completing(
    adapter: _Completes, request: ChatRequest
) -> AsyncIterator[StreamEvent]:
    """Stream a structured-choice request as one delta: its raw wire text (JSON, tool input)
    is not something a caller should see piecemeal, and the answer is a few tokens anyway."""
    completion = await adapter.complete(request)
    if completion.text:
        yield TextDelta(completion.text)
    yield completion.usage
