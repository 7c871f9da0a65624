"""Gemini through the official `google-genai` SDK (`genai.Client(...).aio.models`).

SDK behaviour this adapter relies on (google-genai 3.x, checked in `google/genai/_api_client.py`):
- The base URL goes through `HttpOptions(base_url=...)`; the key is sent as `x-goog-api-key`.
- `HttpOptions.timeout` is one number (milliseconds) applied to every phase of a request, and a
  request without it is sent with *no* timeout at all. To get separate connect and read
  timeouts we hand the SDK our own httpx client that keeps its client-level timeout.
- Retries only happen through `HttpOptions.retry_options`; we pin `attempts=1`.
- Gemini streams have no end marker: the last chunk carries `finishReason`. A stream that
  stops without one was cut short (a server or proxy gave up mid-answer): `dropped_stream`.
- An SSE event whose data is not JSON raises `UnknownApiResponseError` out of the SDK's
  stream generator; it cannot be skipped, so it is reported as `dropped_stream`.
- Transport failures are not wrapped: raw `httpx` exceptions escape and are classified here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from functools import cached_property
from typing import Any

import httpx
from google import genai
from google.genai import errors, types

from providers.adapters._common import (
    connection_error,
    estimate_text_tokens,
    kind_for_status,
    make_usage,
    malformed_chunk_error,
    mentions_context_length,
    parse_retry_after,
    stream_by_completing,
    transport_error,
    unfinished_stream_error,
)
from providers.adapters.base import (
    ChatMessage,
    ChatRequest,
    Completion,
    Embeddings,
    ProviderConfig,
    ProviderError,
    StreamEvent,
    TextDelta,
    Usage,
)

API_VERSION = "v1beta"

# Finish reasons that mean a safety or policy filter stopped the answer (any prompt
# `block_reason` does too).
_FILTER_REASONS = frozenset(
    {"SAFETY", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "RECITATION", "IMAGE_SAFETY"}
)


class _ClientTimeoutAsyncClient(httpx.AsyncClient):
    """Ignores the per-request timeout the SDK passes (None, or one number for all phases)
    so the client's own connect/read timeouts apply."""

    def build_request(self, *args: Any, **kwargs: Any) -> httpx.Request:
        kwargs["timeout"] = self.timeout
        return super().build_request(*args, **kwargs)


class GeminiAdapter:
    def __init__(self, config: ProviderConfig) -> None:
        self._config = config

    @cached_property
    def _client(self) -> genai.Client:
        if not self._config.api_key and not self._config.base_url:
            # The SDK would raise a bare ValueError (or read GOOGLE_API_KEY from the environment).
            raise ProviderError("auth", "A Gemini provider needs an API key.")
        http_client = _ClientTimeoutAsyncClient(
            timeout=httpx.Timeout(self._config.read_timeout, connect=self._config.connect_timeout)
        )
        return genai.Client(
            vertexai=False,
            api_key=self._config.api_key or None,
            http_options=types.HttpOptions(
                base_url=self._config.base_url or None,
                api_version=API_VERSION,
                httpx_async_client=http_client,
                retry_options=types.HttpRetryOptions(attempts=1),  # our policy retries
            ),
        )

    # -- protocol --

    async def complete(self, request: ChatRequest) -> Completion:
        try:
            response = await self._client.aio.models.generate_content(
                model=request.model, contents=_contents(request), config=_config(request)
            )
        except Exception as exc:
            raise self._error(exc) from exc
        _raise_if_blocked(response)
        text = _text(response)
        if request.structured:
            text = text.strip()
        usage = _usage(request, text, response.usage_metadata, _max_tokens_reached(response))
        return Completion(text=text, usage=usage)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        if request.structured:
            async for event in stream_by_completing(self, request):
                yield event
            return
        parts: list[str] = []
        metadata = None
        started = finished = max_tokens_reached = False
        try:
            # The SDK sends the request lazily, at the first iteration: errors before any
            # chunk (bad status, refused connection) surface inside this loop too.
            chunks = await self._client.aio.models.generate_content_stream(
                model=request.model, contents=_contents(request), config=_config(request)
            )
            async for chunk in chunks:
                started = True
                finished = finished or any(c.finish_reason for c in chunk.candidates or [])
                max_tokens_reached = max_tokens_reached or _max_tokens_reached(chunk)
                metadata = chunk.usage_metadata or metadata
                text = _text(chunk)
                if text:
                    parts.append(text)
                    yield TextDelta(text)
                _raise_if_blocked(chunk)
        except ProviderError:
            raise
        except Exception as exc:
            raise self._error(exc, started=started) from exc
        if not finished:
            raise unfinished_stream_error("a finishReason")
        yield _usage(request, "".join(parts), metadata, max_tokens_reached)

    async def list_models(self) -> list[str]:
        try:
            pager = await self._client.aio.models.list()
            return [(model.name or "").removeprefix("models/") async for model in pager]
        except Exception as exc:
            raise self._error(exc) from exc

    async def embed(self, model: str, texts: tuple[str, ...]) -> Embeddings:
        try:
            response = await self._client.aio.models.embed_content(
                model=model,
                contents=list(texts),  # type: ignore[arg-type]  # a list of texts is accepted
            )
        except Exception as exc:
            raise self._error(exc) from exc
        vectors = [tuple(e.values or ()) for e in response.embeddings or ()]
        if len(vectors) != len(texts) or any(not v for v in vectors):
            raise ProviderError(
                "unavailable",
                f"The provider returned {len(vectors)} embeddings for {len(texts)} texts.",
            )
        # Gemini's embedding answer carries no token count.
        return Embeddings(
            vectors=tuple(vectors), input_tokens=estimate_text_tokens(texts), estimated=True
        )

    async def aclose(self) -> None:
        """Release the connection pools (a no-op if no call was made)."""
        client = self.__dict__.pop("_client", None)
        if client is not None:
            await client.aio.aclose()
            # The SDK leaves a caller-supplied httpx client open: it is ours to close.
            await client._api_client._async_httpx_client.aclose()
            client.close()

    # -- errors --

    def _error(self, exc: Exception, *, started: bool = False) -> ProviderError:
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, errors.APIError):
            return _api_error(exc)
        # The SDK parses a non-streamed body with json.loads itself: a truncated or corrupt
        # body escapes as a bare JSONDecodeError (a stream's bad chunk arrives wrapped).
        if isinstance(exc, errors.UnknownApiResponseError | json.JSONDecodeError):
            return malformed_chunk_error(exc)
        mapped = transport_error(exc, started=started)
        if mapped is not None:
            return mapped
        if isinstance(exc, TimeoutError):
            return connection_error(
                "The provider timed out.",
                timed_out=True,
                started=started,
            )
        raise exc  # not a provider failure but a bug: let it surface unchanged


def _api_error(exc: errors.APIError) -> ProviderError:
    status = exc.code or 500
    message = exc.message or str(exc)
    kind = kind_for_status(status)
    if status == 400 and "API_KEY_INVALID" in str(exc.details):
        # Gemini reports a bad key as 400 INVALID_ARGUMENT, not 401.
        kind = "auth"
    elif kind == "bad_request" and mentions_context_length(message):
        kind = "context_too_long"
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    return ProviderError(
        kind,
        message,
        status_code=status,
        retry_after=parse_retry_after(headers) or _retry_info_delay(exc.details),
    )


def _retry_info_delay(details: Any) -> float | None:
    """Gemini's 429 bodies carry `google.rpc.RetryInfo` with a delay like "17s"."""
    error = details.get("error", details) if isinstance(details, dict) else {}
    for item in error.get("details") or []:
        delay = item.get("retryDelay") if isinstance(item, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return float(delay[:-1])
            except ValueError:
                return None
    return None


def _raise_if_blocked(response: types.GenerateContentResponse) -> None:
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason:
        reason = _enum_name(feedback.block_reason)
        raise ProviderError(
            "content_filter",
            f"The prompt was blocked (block_reason={reason}).",
        )
    for candidate in response.candidates or []:
        reason = _enum_name(candidate.finish_reason) if candidate.finish_reason else ""
        if reason in _FILTER_REASONS:
            raise ProviderError(
                "content_filter",
                f"The answer was stopped by a filter (finish_reason={reason}).",
            )


def _enum_name(value: Any) -> str:
    return str(getattr(value, "value", value))


def _text(response: types.GenerateContentResponse) -> str:
    # Not `response.text`: it warns on non-text parts and raises on some empty shapes.
    candidates = response.candidates or []
    if not candidates or candidates[0].content is None:
        return ""
    return "".join(
        part.text for part in candidates[0].content.parts or [] if part.text and not part.thought
    )


def _max_tokens_reached(response: types.GenerateContentResponse) -> bool:
    return any(
        c.finish_reason and _enum_name(c.finish_reason) == "MAX_TOKENS"
        for c in response.candidates or []
    )


def _usage(
    request: ChatRequest,
    text: str,
    metadata: types.GenerateContentResponseUsageMetadata | None,
    max_tokens_reached: bool = False,
) -> Usage:
    if metadata is None:
        return make_usage(request, text, None, None, max_tokens_reached=max_tokens_reached)
    output = metadata.candidates_token_count
    if output is not None and metadata.thoughts_token_count:
        output += metadata.thoughts_token_count  # thinking tokens are billed as output
    return make_usage(
        request,
        text,
        metadata.prompt_token_count,
        output,
        max_tokens_reached=max_tokens_reached,
    )


def _config(request: ChatRequest) -> types.GenerateContentConfig:
    config = types.GenerateContentConfig(
        system_instruction=request.system or None,
        temperature=request.temperature,
        max_output_tokens=request.max_tokens,
    )
    if request.choices is not None:
        # Gemini's enum mode: the answer text is exactly one of the values.
        config.response_mime_type = "text/x.enum"
        config.response_schema = types.Schema(type=types.Type.STRING, enum=list(request.choices))
    elif request.fields is not None:
        # JSON mode with an object of enums: the answer is {"field": "value", …}.
        names = [name for name, _ in request.fields]
        config.response_mime_type = "application/json"
        config.response_schema = types.Schema(
            type=types.Type.OBJECT,
            properties={
                name: types.Schema(type=types.Type.STRING, enum=list(values))
                for name, values in request.fields
            },
            required=names,
            property_ordering=names,
        )
    return config


def _contents(request: ChatRequest) -> list[types.Content]:
    return [_content(m) for m in request.messages]


def _content(message: ChatMessage) -> types.Content:
    parts = [
        types.Part.from_bytes(data=image.data, mime_type=image.mime_type)
        for image in message.images
    ]
    parts.append(types.Part.from_text(text=message.text))
    return types.Content(role="model" if message.role == "assistant" else "user", parts=parts)
