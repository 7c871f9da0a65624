"""OpenAI Chat Completions through the official `openai` SDK (`AsyncOpenAI`).

Two kinds share this module: `openai` (api.openai.com, structured outputs for `choices`)
and `openai_compatible` (Ollama, vLLM, LM Studio, OpenRouter...: a required base URL, plain
text for `choices` because many such servers reject `response_format` json_schema; the
caller parses the answer strictly).

Requests go through the SDK's client (`AsyncOpenAI.request`, see `_post`: auth, headers, timeouts,
pooling, status errors raised as usual); this module reads the raw answer — the JSON of a
completion, or the server-sent events of a stream, taking text, finish reason and usage out of
each chunk without building the SDK's objects. What reading a stream relies on:
- A stream that ends without `data: [DONE]` simply stops; we finish with usage — provided a
  chunk gave a `finish_reason`. One that ends with neither was cut short (a server or proxy
  gave up mid-answer) and is reported as `dropped_stream`.
- An event whose data is not a JSON object is a malformed chunk: the stream cannot be trusted
  from there on, so it is reported as `dropped_stream` (as the SDK's own reader would fail).
- An `{"error": ...}` event inside the stream is a dropped stream with the provider's message.
- Transport failures while reading arrive as the raw httpx/httpx2 exceptions, classified by
  `transport_error` (timeouts as `timeout`, the rest as `dropped_stream`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from functools import cached_property
from typing import Any

import openai
from openai import AsyncOpenAI

from providers.adapters import aiohttp_transport
from providers.adapters._common import (
    CHOICE_FIELD,
    SDK_CALL_HEADERS,
    SDK_PLATFORM_HEADERS,
    choice_json_schema,
    connection_error,
    estimate_text_tokens,
    fields_json_schema,
    kind_for_status,
    make_usage,
    malformed_chunk_error,
    mentions_context_length,
    omitting,
    status_error,
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
    ImagePart,
    ProviderConfig,
    ProviderError,
    StreamEvent,
    TextDelta,
)

# Codes OpenAI (and Azure OpenAI) use for a request refused by the content policy.
_CONTENT_POLICY_CODES = frozenset({"content_policy_violation", "content_filter"})


class OpenAIAdapter:
    # api.openai.com supports structured outputs; reasoning models reject `max_tokens`.
    structured_choices = True
    max_tokens_param = "max_completion_tokens"

    def __init__(self, config: ProviderConfig) -> None:
        self._config = config

    @cached_property
    def _client(self) -> AsyncOpenAI:
        # Built on first use so that constructing an adapter stays cheap.
        return _Client(
            # Local OpenAI-style servers often need no key, but the SDK insists on one.
            api_key=self._config.api_key or "not-needed",
            base_url=self._config.base_url or None,
            timeout=openai.Timeout(self._config.read_timeout, connect=self._config.connect_timeout),
            # Our own failure policy decides retries and fallbacks.
            max_retries=0,
            default_headers=omitting(SDK_PLATFORM_HEADERS, openai.omit),
            # Bytes travel through aiohttp (see `aiohttp_transport`): half the CPU per call.
            http_client=aiohttp_transport.http_client(),
        )

    # -- protocol --

    async def complete(self, request: ChatRequest) -> Completion:
        try:
            response = await self._post(self._params(request), stream=False)
            data = response.json()
        except Exception as exc:
            raise self._error(exc) from exc
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices or not isinstance(choices[0], dict):
            raise ProviderError("unavailable", "The provider returned no choices.")
        choice = choices[0]
        message = choice.get("message") or {}
        text = message.get("content") or ""
        _raise_if_filtered(choice.get("finish_reason"), message.get("refusal"))
        if request.choices is not None and self.structured_choices:
            text = _parse_choice(text)
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return Completion(
            text=text,
            usage=make_usage(
                request,
                text,
                usage.get("prompt_tokens"),
                usage.get("completion_tokens"),
                max_tokens_reached=choice.get("finish_reason") == "length",
            ),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        if request.structured:
            async for event in stream_by_completing(self, request):
                yield event
            return
        params = self._params(request) | {"stream": True, "stream_options": {"include_usage": True}}
        # Read raw (see _post): the SDK would build a pydantic chunk object per token only for
        # us to take one string out of it.
        try:
            response = await self._post(params, stream=True)
        except Exception as exc:
            raise self._error(exc) from exc
        parts: list[str] = []
        input_tokens = output_tokens = None
        done = finished = max_tokens_reached = False
        try:
            # One read of the body often completes several events: their text goes on as one
            # delta, so every layer above (failover, the SSE we send, the socket) pays once
            # per read, as a byte-for-byte relay does, not once per token.
            async for events in _sse_batches(_body_of(response)):
                text: list[str] = []
                failure: Exception | None = None
                for data in events:
                    # After [DONE] the body is read to its end (nothing should follow): a
                    # response closed early takes its keep-alive connection with it, and the
                    # next call would pay for a new one.
                    done = done or data.startswith("[DONE]")
                    if done:
                        continue
                    try:
                        chunk = json.loads(data)
                        if not isinstance(chunk, dict):
                            raise json.JSONDecodeError("a chunk is not a JSON object", data, 0)
                        if chunk.get("error"):
                            raise _stream_error(chunk["error"])
                        usage = chunk.get("usage")
                        if isinstance(usage, dict):
                            input_tokens = usage.get("prompt_tokens")
                            output_tokens = usage.get("completion_tokens")
                        for choice in (chunk.get("choices") or [])[:1]:
                            delta = (choice.get("delta") or {}).get("content")
                            if delta:
                                text.append(delta)
                            finished = finished or bool(choice.get("finish_reason"))
                            if choice.get("finish_reason") == "length":
                                max_tokens_reached = True
                            _raise_if_filtered(choice.get("finish_reason"), None)
                    except Exception as exc:
                        failure = exc  # after the text that came before it
                        break
                if text:
                    joined = "".join(text)
                    parts.append(joined)
                    yield TextDelta(joined)
                if failure is not None:
                    raise failure
        except ProviderError:
            raise
        except Exception as exc:
            raise self._error(exc, started=True) from exc
        finally:
            await response.aclose()
        if not (done or finished):
            raise unfinished_stream_error("a finish_reason or [DONE]")
        yield make_usage(
            request,
            "".join(parts),
            input_tokens,
            output_tokens,
            max_tokens_reached=max_tokens_reached,
        )

    async def list_models(self) -> list[str]:
        try:
            return [model.id async for model in self._client.models.list()]
        except Exception as exc:
            raise self._error(exc) from exc

    async def embed(self, model: str, texts: tuple[str, ...]) -> Embeddings:
        try:
            response = await self._client.embeddings.create(
                model=model, input=list(texts), encoding_format="float"
            )
        except Exception as exc:
            raise self._error(exc) from exc
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(texts):
            raise ProviderError(
                "unavailable",
                f"The provider returned {len(data)} embeddings for {len(texts)} texts.",
            )
        usage = response.usage
        return Embeddings(
            vectors=tuple(tuple(item.embedding) for item in data),
            input_tokens=usage.prompt_tokens if usage else estimate_text_tokens(texts),
            estimated=usage is None,
        )

    async def aclose(self) -> None:
        """Release the SDK client's connection pool (a no-op if no call was made)."""
        client = self.__dict__.pop("_client", None)
        if client is not None:
            await client.close()

    # -- request --

    async def _post(self, params: dict[str, Any], *, stream: bool) -> Any:
        """POST /chat/completions through the SDK's client, the raw HTTP response back.

        `AsyncOpenAI.request` (what the SDK's documented `post` for a hand-built body calls)
        keeps everything the SDK does for a request — base URL, auth and headers, timeouts,
        connection pooling, status errors raised as `APIStatusError` — and skips what
        `chat.completions.create` adds on top: validating and transforming the params against
        their TypedDicts and building pydantic objects of the answer, which on this path cost
        more than a millisecond per call, more than the rest of routing. The request's options
        are this adapter's one set (`_call_options`) with the call's body: `post` would build
        them anew per call, filling each of their dozen defaults with a deep copy."""
        options = self._call_options.model_copy(update={"json_data": params})
        return await self._client.request(
            _raw_response_class(), options, stream=stream, stream_cls=None
        )

    @cached_property
    def _call_options(self) -> Any:
        """What `post` would give `request` for a call, but the body. The SDK copies these
        before each use (`request` takes a copy per try), as `model_copy` does above."""
        from openai._models import FinalRequestOptions

        return FinalRequestOptions.construct(
            method="post", url=self._completions_url, **_CALL_OPTIONS
        )

    @cached_property
    def _completions_url(self) -> str:
        """The endpoint's absolute URL, joined to the client's base URL (which the SDK keeps
        with a trailing slash) as the SDK joins a relative one — once, instead of on every
        call. A base URL with a query string is left to the SDK."""
        base = self._client.base_url
        if base.query:
            return "/chat/completions"
        return str(base.copy_with(raw_path=base.raw_path + b"chat/completions"))

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {"model": request.model, "messages": _messages(request)}
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            params[self.max_tokens_param] = request.max_tokens
        if request.choices is not None and self.structured_choices:
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "choice",
                    "strict": True,
                    "schema": choice_json_schema(request.choices),
                },
            }
        elif request.fields is not None and self.structured_choices:
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "judgement",
                    "strict": True,
                    "schema": fields_json_schema(request.fields),
                },
            }
        return params

    # -- errors --

    def _error(self, exc: Exception, *, started: bool = False) -> ProviderError:
        if isinstance(exc, openai.APITimeoutError):  # before APIConnectionError: it subclasses it
            return connection_error(
                "The provider timed out.",
                timed_out=True,
                started=started,
            )
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return connection_error(
                f"Connection to the provider failed: {cause}",
                timed_out=False,
                started=started,
            )
        if isinstance(exc, openai.APIStatusError):
            return _status_error(exc)
        if isinstance(exc, openai.APIError):
            # An `{"error": ...}` object inside an otherwise successful stream.
            kind: ErrorKind = "dropped_stream" if started else "unavailable"
            return ProviderError(kind, f"The provider reported an error: {exc.message}")
        if isinstance(exc, json.JSONDecodeError):
            return malformed_chunk_error(exc)
        mapped = transport_error(exc, started=started)
        if mapped is not None:
            return mapped
        if isinstance(exc, openai.OpenAIError):
            return ProviderError("unavailable", f"OpenAI SDK error: {exc}")
        raise exc  # not a provider failure but a bug: let it surface unchanged


class _Client(aiohttp_transport.PreparedURLs, AsyncOpenAI):
    """The SDK's client, joining each endpoint's URL to the base URL once (`PreparedURLs`)."""


class OpenAICompatibleAdapter(OpenAIAdapter):
    """Any OpenAI-style server. `choices` go as plain text: the prompt names the options."""

    structured_choices = False
    # The older parameter is the one every compatible server understands.
    max_tokens_param = "max_tokens"

    def __init__(self, config: ProviderConfig) -> None:
        if not config.base_url:
            raise ValueError("An OpenAI-compatible provider needs a base URL.")
        super().__init__(config)


def _status_error(exc: openai.APIStatusError) -> ProviderError:
    status = exc.status_code
    message = _error_message(exc)
    code = exc.code or ""
    kind = kind_for_status(status)
    if code in _CONTENT_POLICY_CODES:
        kind = "content_filter"
    elif status in (400, 413) and mentions_context_length(code, message):
        kind = "context_too_long"
    return status_error(status, message, headers=exc.response.headers, kind=kind)


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return exc.message


def _raise_if_filtered(finish_reason: str | None, refusal: str | None) -> None:
    if finish_reason == "content_filter":
        raise ProviderError(
            "content_filter",
            "The provider's content filter stopped the answer (finish_reason=content_filter).",
        )
    if refusal:
        raise ProviderError("content_filter", f"The model refused: {refusal}")


def _body_of(response: Any) -> AsyncIterator[bytes]:
    """The response body as it arrives: raw when nothing is content-encoded (the usual case
    for an event stream), which skips httpx2's decoder and re-chunker on every read."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    return response.aiter_raw() if encoding == "identity" else response.aiter_bytes()


# Every call's request options: without the SDK's per-call telemetry headers (_common).
_CALL_OPTIONS: Any = {"headers": omitting(SDK_CALL_HEADERS, openai.omit)}


def _raw_response_class() -> type:
    """The response class of the HTTP library this SDK version uses (httpx2, or httpx)."""
    from openai import _base_client

    library = getattr(_base_client, "httpx2", None) or _base_client.httpx  # type: ignore[attr-defined]
    return library.Response


async def _sse_batches(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[str]]:
    """The `data` of the server-sent events each read of the body completes (multi-line data
    joined with newlines), one list per read. Lines may end in CRLF, LF or CR."""
    buffer = b""
    data: list[str] = []
    async for chunk in chunks:
        buffer += chunk
        if b"\r" in buffer:
            # A CR at the very end may be the first half of a CRLF: keep it for the next read.
            held = b"\r" if buffer.endswith(b"\r") else b""
            body = buffer[: len(buffer) - len(held)]
            buffer = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n") + held
        *lines, buffer = buffer.split(b"\n")
        events: list[str] = []
        for raw in lines:
            if not raw:
                if data:
                    events.append("\n".join(data))
                    data = []
                continue
            if raw.startswith(b"data:"):
                value = raw[5:].decode("utf-8", "replace")
                data.append(value[1:] if value.startswith(" ") else value)
            # Other fields (event:, id:, retry:) and comments (":") carry nothing we use.
        if events:
            yield events
    tail = buffer.rstrip(b"\r")
    if tail.startswith(b"data:"):
        value = tail[5:].decode("utf-8", "replace")
        data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield ["\n".join(data)]


def _stream_error(error: Any) -> ProviderError:
    """An `{"error": ...}` object inside an otherwise successful stream."""
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str) or not message:
        message = "An error occurred during streaming"
    return ProviderError("dropped_stream", f"The provider reported an error: {message}")


def _parse_choice(text: str) -> str:
    """The value of a structured-output answer; the raw text when it is not the expected JSON,
    which the caller's strict check then treats as no choice."""
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()
    if isinstance(data, dict) and isinstance(data.get(CHOICE_FIELD), str):
        return data[CHOICE_FIELD]
    return text.strip()


def _messages(request: ChatRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.extend(_message(m) for m in request.messages)
    return messages


def _message(message: ChatMessage) -> dict[str, Any]:
    # Only user turns may carry images on the Chat Completions API.
    if not message.images or message.role != "user":
        return {"role": message.role, "content": message.text}
    content: list[dict[str, Any]] = [{"type": "text", "text": message.text}]
    content.extend(
        {"type": "image_url", "image_url": {"url": _data_url(image)}} for image in message.images
    )
    return {"role": message.role, "content": content}


def _data_url(image: ImagePart) -> str:
    return f"data:{image.mime_type};base64,{base64.b64encode(image.data).decode('ascii')}"
