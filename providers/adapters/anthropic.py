"""Anthropic's Messages API through the official `anthropic` SDK (`AsyncAnthropic`).

SDK behaviour this adapter relies on (anthropic 2.x, checked in `anthropic/_streaming.py`):
- We iterate the raw event stream (`messages.create(stream=True)`), not the accumulating
  `messages.stream()` helper, so a stream without `message_stop` simply ends and we finish
  with the usage seen so far (estimated for what is missing).
- An `event: error` mid-stream (e.g. overloaded_error) is raised by the SDK as an
  `APIStatusError` carrying the error `type`; we map that type, keeping the partial text.
- An SSE event whose data is not JSON raises `json.JSONDecodeError` out of the SDK's stream
  generator; it cannot be skipped, so it is reported as `dropped_stream`.
- Transport failures while reading a stream are NOT wrapped by the SDK: raw `httpx2`
  exceptions (RemoteProtocolError, ReadTimeout) escape and are classified here.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from functools import cached_property
from typing import Any

import anthropic
from anthropic import AsyncAnthropic

from providers.adapters import aiohttp_transport
from providers.adapters._common import (
    CHOICE_FIELD,
    CHOICE_TOOL_NAME,
    SDK_CALL_HEADERS,
    SDK_PLATFORM_HEADERS,
    choice_json_schema,
    connection_error,
    fields_json_schema,
    kind_for_status,
    make_usage,
    malformed_chunk_error,
    mentions_context_length,
    omitting,
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
    ErrorKind,
    ProviderConfig,
    ProviderError,
    StreamEvent,
    TextDelta,
)

# The Messages API requires max_tokens; this is used when the request does not say.
DEFAULT_MAX_TOKENS = 4096
# Every call without the SDK's per-call telemetry headers (_common).
_CALL_HEADERS = omitting(SDK_CALL_HEADERS, anthropic.omit)

# Anthropic error `type`s (also sent inside a stream's error event) → our kinds.
_ERROR_TYPE_KINDS: dict[str, ErrorKind] = {
    "invalid_request_error": "bad_request",
    "request_too_large": "bad_request",
    "not_found_error": "bad_request",
    "authentication_error": "auth",
    "permission_error": "auth",
    "billing_error": "auth",
    "rate_limit_error": "rate_limited",
    "timeout_error": "timeout",
    "api_error": "unavailable",
    "overloaded_error": "unavailable",
}


class AnthropicAdapter:
    def __init__(self, config: ProviderConfig) -> None:
        self._config = config

    @cached_property
    def _client(self) -> AsyncAnthropic:
        return _Client(
            # Always explicit: an empty key must fail as auth, not silently pick up
            # ANTHROPIC_API_KEY or a credentials profile from the server's environment.
            api_key=self._config.api_key,
            base_url=self._config.base_url or None,
            timeout=anthropic.Timeout(
                self._config.read_timeout, connect=self._config.connect_timeout
            ),
            max_retries=0,  # retries belong to our failure policy
            default_headers=omitting(SDK_PLATFORM_HEADERS, anthropic.omit),
            # Bytes travel through aiohttp (see `aiohttp_transport`): half the CPU per call.
            http_client=aiohttp_transport.http_client(),
        )

    # -- protocol --

    async def complete(self, request: ChatRequest) -> Completion:
        try:
            message = await self._client.messages.create(**self._params(request))
        except Exception as exc:
            raise self._error(exc) from exc
        if message.stop_reason == "refusal":
            raise _refusal(getattr(message, "stop_details", None))
        if request.choices is not None:
            text = _chosen(message.content)
        elif request.fields is not None:
            text = _tool_input(message.content)
        else:
            text = _text(message.content)
        usage = getattr(message, "usage", None)
        return Completion(
            text=text,
            usage=make_usage(
                request,
                text,
                getattr(usage, "input_tokens", None),
                getattr(usage, "output_tokens", None),
                max_tokens_reached=message.stop_reason == "max_tokens",
            ),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        if request.structured:
            async for event in stream_by_completing(self, request):
                yield event
            return
        try:
            events = await self._client.messages.create(**self._params(request), stream=True)
        except Exception as exc:
            raise self._error(exc) from exc
        parts: list[str] = []
        counts: dict[str, int | None] = {"input": None, "output": None}
        finished = max_tokens_reached = False
        try:
            async with events:
                async for event in events:
                    finished = finished or _ends_message(event)
                    if _stop_reason(event) == "max_tokens":
                        max_tokens_reached = True
                    text = _handle_event(event, counts, parts)
                    if text:
                        parts.append(text)
                        yield TextDelta(text)
        except ProviderError:
            raise
        except Exception as exc:
            raise self._error(exc, started=True) from exc
        if not finished:
            raise unfinished_stream_error("a stop_reason or message_stop")
        yield make_usage(
            request,
            "".join(parts),
            counts["input"],
            counts["output"],
            max_tokens_reached=max_tokens_reached,
        )

    async def list_models(self) -> list[str]:
        try:
            return [model.id async for model in self._client.models.list()]
        except Exception as exc:
            raise self._error(exc) from exc

    async def embed(self, model: str, texts: tuple[str, ...]) -> Embeddings:
        raise ProviderError(
            "bad_request",
            "Anthropic has no embedding API: pick an embedding model from another provider "
            "(or the local model) for semantic rules.",
            retryable=False,
        )

    async def aclose(self) -> None:
        """Release the SDK client's connection pool (a no-op if no call was made)."""
        client = self.__dict__.pop("_client", None)
        if client is not None:
            await client.close()

    # -- request --

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            "messages": [_message(m) for m in request.messages],
            "extra_headers": _CALL_HEADERS,
        }
        if request.system:
            params["system"] = request.system
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.choices is not None:
            # A forced tool whose only input is an enum: the model cannot answer anything else.
            params["tools"] = [
                {
                    "name": CHOICE_TOOL_NAME,
                    "description": "Record exactly one of the offered options.",
                    "input_schema": choice_json_schema(request.choices),
                }
            ]
            params["tool_choice"] = {"type": "tool", "name": CHOICE_TOOL_NAME}
        elif request.fields is not None:
            params["tools"] = [
                {
                    "name": CHOICE_TOOL_NAME,
                    "description": "Record one of the offered values for every field.",
                    "input_schema": fields_json_schema(request.fields),
                }
            ]
            params["tool_choice"] = {"type": "tool", "name": CHOICE_TOOL_NAME}
        return params

    # -- errors --

    def _error(self, exc: Exception, *, started: bool = False) -> ProviderError:
        if isinstance(exc, anthropic.APITimeoutError):
            return connection_error(
                "The provider timed out.",
                timed_out=True,
                started=started,
            )
        if isinstance(exc, anthropic.APIConnectionError):
            cause = exc.__cause__ or exc
            return connection_error(
                f"Connection to the provider failed: {cause}",
                timed_out=False,
                started=started,
            )
        if isinstance(exc, anthropic.APIStatusError):
            return _status_error(exc)
        if isinstance(exc, json.JSONDecodeError):
            return malformed_chunk_error(exc)
        mapped = transport_error(exc, started=started)
        if mapped is not None:
            return mapped
        if isinstance(exc, anthropic.AnthropicError):
            return ProviderError("unavailable", f"Anthropic SDK error: {exc}")
        raise exc  # not a provider failure but a bug: let it surface unchanged


class _Client(aiohttp_transport.PreparedURLs, AsyncAnthropic):
    """The SDK's client, joining each endpoint's URL to the base URL once (`PreparedURLs`)."""


def _stop_reason(event: Any) -> str:
    if getattr(event, "type", None) != "message_delta":
        return ""
    return getattr(event.delta, "stop_reason", None) or ""


def _ends_message(event: Any) -> bool:
    """The provider says the answer is finished: a `message_delta` with its `stop_reason`, or
    `message_stop`."""
    return getattr(event, "type", None) == "message_stop" or bool(_stop_reason(event))


def _handle_event(event: Any, counts: dict[str, int | None], parts: list[str]) -> str:
    """Record usage from one raw stream event; return its text, if it carries any."""
    kind = getattr(event, "type", None)
    usage: Any  # the SDK's usage object, or None when the event has none
    if kind == "message_start":
        usage = getattr(event.message, "usage", None)
        counts["input"] = getattr(usage, "input_tokens", None)
    elif kind == "content_block_delta" and getattr(event.delta, "type", None) == "text_delta":
        return event.delta.text or ""
    elif kind == "message_delta":
        usage = getattr(event, "usage", None)
        # message_delta counts are cumulative, so the last one wins.
        if getattr(usage, "output_tokens", None) is not None:
            counts["output"] = usage.output_tokens
        if getattr(usage, "input_tokens", None) is not None:
            counts["input"] = usage.input_tokens
        if getattr(event.delta, "stop_reason", None) == "refusal":
            raise _refusal(getattr(event.delta, "stop_details", None))
    return ""


def _status_error(exc: anthropic.APIStatusError) -> ProviderError:
    status = exc.status_code
    message = getattr(exc, "api_message", None) or exc.message
    error_type = getattr(exc, "type", None) or ""
    if status < 400:
        # An error event inside a 200 stream: only the error type tells what happened.
        kind = _ERROR_TYPE_KINDS.get(error_type, "unavailable")
    else:
        kind = kind_for_status(status)
    if kind == "bad_request" and mentions_context_length(message):
        kind = "context_too_long"
    return ProviderError(
        kind,
        message,
        status_code=status if status >= 400 else None,
        retry_after=parse_retry_after(exc.response.headers),
    )


def _refusal(details: Any) -> ProviderError:
    reason = "stop_reason=refusal"
    category = getattr(details, "category", None)
    explanation = getattr(details, "explanation", None)
    if category:
        reason += f", category={category}"
    if explanation:
        reason += f": {explanation}"
    return ProviderError("content_filter", f"The model refused to answer ({reason}).")


def _text(content: list[Any]) -> str:
    return "".join(block.text for block in content if getattr(block, "type", None) == "text")


def _tool_input(content: list[Any]) -> str:
    """The forced tool call's input as JSON text (the text, when the model did not call it)."""
    for block in content:
        if getattr(block, "type", None) == "tool_use" and isinstance(block.input, dict):
            return json.dumps(block.input)
    return _text(content).strip()


def _chosen(content: list[Any]) -> str:
    """The enum value of the forced tool call ('' when the model did not call it)."""
    for block in content:
        if getattr(block, "type", None) == "tool_use" and isinstance(block.input, dict):
            value = block.input.get(CHOICE_FIELD)
            if isinstance(value, str):
                return value
    return _text(content).strip()


def _message(message: ChatMessage) -> dict[str, Any]:
    if not message.images:
        return {"role": message.role, "content": message.text}
    # Anthropic recommends images before the text that refers to them.
    content: list[dict[str, Any]] = [
        {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": image.mime_type,
                "data": base64.b64encode(image.data).decode("ascii"),
            },
        }
        for image in message.images
    ]
    content.append({"type": "text", "text": message.text})
    return {"role": message.role, "content": content}
