"""A real HTTP server on loopback that speaks just enough OpenAI, Anthropic and Gemini.

Provider adapters are tested through their official SDKs against this server, so the SDKs'
own request building, SSE parsing and error classes are exercised for real. Misbehaviour is
injected per request with *switches* (see `SWITCHES`), set with `FakeUpstream.script(...)`,
over HTTP (`POST /_fake/script`, `POST /_fake/reset`) or for one request with the
`x-fake-switches: <json>` header.

Streaming bodies use HTTP/1.1 chunked transfer encoding on purpose: only then can a client
tell a clean end (the zero-length terminating chunk) from a connection dropped mid-stream.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import re
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SWITCHES: frozenset[str] = frozenset(
    {
        "status",  # HTTP error status with the provider's error body shape
        "retry_after",  # seconds, sent as a Retry-After header (any status)
        "error_code",  # "context_length_exceeded" | "content_filter" | provider-specific extras
        "delay_first_byte",  # seconds before any response byte
        "slow_first_token",  # headers sent, then wait N s before the first chunk
        "stall_after_chunks",  # with stall_seconds: pause mid-stream after N text chunks
        "stall_seconds",  # N, or "forever": until the client hangs up (the default)
        "drop_after_chunks",  # close the socket after N text chunks, no terminator
        # End the body cleanly after N text chunks (HTTP-wise complete) with no finish reason,
        # no end marker: a server or proxy that gave up mid-answer without saying so.
        "end_after_chunks",
        "reset_before_headers",  # close the socket without any response
        "malformed_chunk_at",  # insert one invalid-JSON SSE event before text chunk N
        "omit_end_marker",  # finish cleanly but without [DONE] / message_stop / finishReason
        # The answer stops at the request's max_tokens: finish_reason "length" / stop_reason
        # "max_tokens" / finishReason "MAX_TOKENS".
        "max_tokens_reached",
        "reply",  # the answer text (`choices` requests: the chosen value, or a JSON object)
        "usage",  # {"input_tokens": N, "output_tokens": M}, or None to omit usage
        "reject_prefill",  # a request ending with an assistant message gets a 400
        # How a model asked to continue a cut answer (an assistant prefill, or the partial
        # answer plus an instruction quoting its last words between ⟦ ⟧) replies, with `reply`
        # as the whole answer: "continue" (the rest, after the prefill or from the quoted
        # words), "restart" (the whole answer again), "repeat" (a preamble, then the whole
        # answer), "overlap" (the rest, from two words before the cut), "ignore" (a fresh
        # answer to the user's last message). Without it, `reply` is sent as is.
        "on_continue",
    }
)

DEFAULT_MODELS: tuple[str, ...] = ("fake-small", "fake-large", "fake-vision")

# `delay_first_byte`, `slow_first_token` and `stall_seconds` given as this value last until
# the client hangs up (a minute at most): a test of a timeout then never depends on a delay
# being "long enough".
FOREVER = "forever"
_FOREVER_CAP = 60.0
_ANCHOR = re.compile(r"⟦(.*?)⟧", re.S)


def check_switches(switches: dict[str, Any]) -> None:
    """Fail loudly on a misspelt switch: a silently ignored one makes a test pass for nothing."""
    unknown = set(switches) - SWITCHES
    if unknown:
        raise ValueError(f"unknown fake upstream switches: {sorted(unknown)}")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON, or None
    model: str | None
    provider: str | None  # "openai" | "anthropic" | "gemini" | None (control endpoints)


@dataclass(slots=True)
class _Script:
    model: str | None
    remaining: int | None
    switches: dict[str, Any]


# --- What each provider's request says, independent of wire format -------------------------


@dataclass(slots=True)
class _Ask:
    model: str
    stream: bool
    last_user_text: str
    ends_with_assistant: bool
    choices: list[str] | None
    input_chars: int
    include_usage: bool = True  # OpenAI streams report usage only when asked
    # A request to continue a cut answer: the partial answer, and the words it was asked to
    # begin with (None: an assistant prefill).
    partial: str | None = None
    anchor: str | None = None


def _continuation(turns: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    """(partial answer, quoted last words) when `turns` (role, text) ask to continue one."""
    if turns and turns[-1][0] == "assistant":
        return turns[-1][1], None
    if len(turns) >= 2 and turns[-2][0] == "assistant":
        found = _ANCHOR.search(turns[-1][1])
        if found:
            return turns[-2][1], found.group(1)
    return None, None


def _words(text: str) -> list[str]:
    # Keep each word's trailing whitespace so the chunks concatenate back to the text.
    return re.findall(r"\S+\s*", text) or [text]


def _continuation_of(turns: list[tuple[str, str]]) -> dict[str, str | None]:
    partial, anchor = _continuation(turns)
    return {"partial": partial, "anchor": anchor}


def _structured(text: str) -> dict[str, Any]:
    """The structured answer for a `reply`: a JSON object reply is sent as it is (a
    multi-field classifier answer), anything else as the one enum field `choice`."""
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return data
    return {"choice": text}


def _first_enum(node: Any) -> list[str] | None:
    """The first `enum` list anywhere in a JSON schema (wire formats nest it differently)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "enum" and isinstance(value, list):
                return [str(v) for v in value]
            found = _first_enum(value)
            if found is not None:
                return found
    elif isinstance(node, list):
        for item in node:
            found = _first_enum(item)
            if found is not None:
                return found
    return None


def _text_of_content(content: Any) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for part in content or []:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            texts.append(part["text"])
    return "".join(texts)


# --- Dialects: one per provider wire format ---------------------------------------------------


class _Dialect:
    name: str
    sse_line_end = "\n"

    def parse(
        self,
        body: dict[str, Any],
        model_from_path: str | None,
        query: dict[str, list[str]],
        path: str,
    ) -> _Ask:
        raise NotImplementedError

    def error_body(self, status: int, message: str, code: str | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def context_too_long(self) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError

    def refusal_response(
        self, ask: _Ask, usage: dict[str, int] | None, error_code: str
    ) -> tuple[int, dict[str, Any]] | None:
        """A non-error-status content-policy answer (None: this dialect has no such shape)."""
        return None

    # How the dialect says the answer stopped at max_tokens.
    max_tokens_stop = ""

    def complete_body(
        self, ask: _Ask, text: str, usage: dict[str, int] | None, stop: str | None = None
    ) -> dict[str, Any]:
        raise NotImplementedError

    # Streaming: preamble events, one event per text piece, closing events, the end marker.
    def stream_preamble(self, ask: _Ask, usage: dict[str, int] | None) -> list[str]:
        return []

    def stream_delta(self, ask: _Ask, piece: str, index: int) -> str:
        raise NotImplementedError

    def stream_closing(
        self,
        ask: _Ask,
        usage: dict[str, int] | None,
        *,
        omit_end_marker: bool,
        stop: str | None = None,
    ) -> list[str]:
        raise NotImplementedError

    def stream_refusal(
        self, ask: _Ask, usage: dict[str, int] | None, error_code: str
    ) -> list[str] | None:
        return None

    def malformed_event(self) -> str:
        return f"data: {{not valid json{self.sse_line_end}{self.sse_line_end}"

    def sse(self, payload: Any, event: str | None = None) -> str:
        end = self.sse_line_end
        head = f"event: {event}{end}" if event else ""
        return f"{head}data: {json.dumps(payload)}{end}{end}"


class _OpenAI(_Dialect):
    name = "openai"

    _STATUS_ERRORS = {
        400: ("invalid_request_error", None),
        401: ("invalid_request_error", "invalid_api_key"),
        403: ("invalid_request_error", "unsupported_country_region_territory"),
        404: ("invalid_request_error", "model_not_found"),
        429: ("requests", "rate_limit_exceeded"),
        500: ("server_error", None),
        503: ("server_error", "service_unavailable"),
        529: ("server_error", "overloaded"),
    }

    def parse(self, body, model_from_path, query, path):
        messages = body.get("messages") or []
        users = [m for m in messages if m.get("role") == "user"]
        fmt = body.get("response_format") or {}
        return _Ask(
            model=str(body.get("model", "")),
            stream=bool(body.get("stream")),
            last_user_text=_text_of_content(users[-1].get("content")) if users else "",
            ends_with_assistant=bool(messages) and messages[-1].get("role") == "assistant",
            choices=_first_enum(fmt.get("json_schema"))
            if fmt.get("type") == "json_schema"
            else None,
            input_chars=sum(len(_text_of_content(m.get("content"))) for m in messages),
            include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
            **_continuation_of(
                [(m.get("role", ""), _text_of_content(m.get("content"))) for m in messages]
            ),
        )

    def error_body(self, status, message, code=None):
        err_type, default_code = self._STATUS_ERRORS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None)
        )
        return {
            "error": {
                "message": message,
                "type": err_type,
                "param": None,
                "code": code or default_code,
            }
        }

    def context_too_long(self):
        message = (
            "This model's maximum context length is 128000 tokens. However, your messages "
            "resulted in 131072 tokens. Please reduce the length of the messages."
        )
        body = self.error_body(400, message, "context_length_exceeded")
        body["error"]["param"] = "messages"
        return 400, body

    def refusal_response(self, ask, usage, error_code):
        if error_code == "content_policy_violation":
            message = "Your request was rejected as a result of our safety system."
            return 400, self.error_body(400, message, "content_policy_violation")
        # Azure OpenAI's shape: a 200 whose choice stopped with finish_reason content_filter.
        return 200, self._completion(ask, "", usage, finish_reason="content_filter")

    def _completion(self, ask, text, usage, finish_reason="stop"):
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": ask.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "finish_reason": finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": self._usage(usage),
        }

    @staticmethod
    def _usage(usage):
        if usage is None:
            return None
        return {
            "prompt_tokens": usage["input_tokens"],
            "completion_tokens": usage["output_tokens"],
            "total_tokens": usage["input_tokens"] + usage["output_tokens"],
        }

    max_tokens_stop = "length"

    def complete_body(self, ask, text, usage, stop=None):
        if ask.choices is not None:
            # Structured output: the content is JSON matching the requested schema.
            text = json.dumps(_structured(text))
        return self._completion(ask, text, usage, finish_reason=stop or "stop")

    def _chunk(self, ask, delta, finish_reason=None):
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": ask.model,
            "choices": [
                {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
            ],
        }

    def stream_preamble(self, ask, usage):
        return [self.sse(self._chunk(ask, {"role": "assistant", "content": ""}))]

    def stream_delta(self, ask, piece, index):
        return self.sse(self._chunk(ask, {"content": piece}))

    def stream_closing(self, ask, usage, *, omit_end_marker, stop=None):
        events = [self.sse(self._chunk(ask, {}, finish_reason=stop or "stop"))]
        if ask.include_usage and usage is not None:
            chunk = self._chunk(ask, {})
            chunk["choices"] = []
            chunk["usage"] = self._usage(usage)
            events.append(self.sse(chunk))
        if not omit_end_marker:
            events.append("data: [DONE]\n\n")
        return events

    def stream_refusal(self, ask, usage, error_code):
        if error_code == "content_policy_violation":
            return None  # an HTTP 400, handled before streaming starts
        return self.stream_preamble(ask, usage) + self.stream_closing(
            ask, usage, omit_end_marker=False, stop="content_filter"
        )


class _Anthropic(_Dialect):
    name = "anthropic"

    _STATUS_ERRORS = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        500: "api_error",
        503: "api_error",
        529: "overloaded_error",
    }

    def parse(self, body, model_from_path, query, path):
        messages = body.get("messages") or []
        users = [m for m in messages if m.get("role") == "user"]
        choices = None
        tool_choice = body.get("tool_choice") or {}
        if tool_choice.get("type") == "tool":
            tool = next(
                (t for t in body.get("tools") or [] if t.get("name") == tool_choice.get("name")),
                None,
            )
            choices = _first_enum(tool.get("input_schema")) if tool else None
        system = body.get("system") or ""
        return _Ask(
            model=str(body.get("model", "")),
            stream=bool(body.get("stream")),
            last_user_text=_text_of_content(users[-1].get("content")) if users else "",
            ends_with_assistant=bool(messages) and messages[-1].get("role") == "assistant",
            choices=choices,
            input_chars=sum(len(_text_of_content(m.get("content"))) for m in messages)
            + len(_text_of_content(system)),
            **_continuation_of(
                [(m.get("role", ""), _text_of_content(m.get("content"))) for m in messages]
            ),
        )

    def error_body(self, status, message, code=None):
        err_type = self._STATUS_ERRORS.get(
            status, "api_error" if status >= 500 else "invalid_request_error"
        )
        return {
            "type": "error",
            "error": {"type": err_type, "message": message},
            "request_id": "req_fake",
        }

    def context_too_long(self):
        return 400, self.error_body(400, "prompt is too long: 210000 tokens > 200000 maximum")

    def _refusal_details(self):
        return {
            "type": "refusal",
            "category": "general_harms",
            "explanation": "The request was declined by the usage policy.",
        }

    def refusal_response(self, ask, usage, error_code):
        body = self._message(ask, [], usage, stop_reason="refusal")
        body["stop_details"] = self._refusal_details()
        return 200, body

    def _message(self, ask, content, usage, stop_reason):
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": ask.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            **({"usage": dict(usage)} if usage is not None else {}),
        }

    max_tokens_stop = "max_tokens"

    def complete_body(self, ask, text, usage, stop=None):
        if ask.choices is not None:
            block = {
                "type": "tool_use",
                "id": "toolu_fake",
                "name": "choose",
                "input": _structured(text),
            }
            return self._message(ask, [block], usage, stop_reason="tool_use")
        content = [{"type": "text", "text": text}]
        return self._message(ask, content, usage, stop_reason=stop or "end_turn")

    def stream_preamble(self, ask, usage):
        start_usage = (
            {"input_tokens": usage["input_tokens"], "output_tokens": 1}
            if usage is not None
            else None
        )
        message = self._message(ask, [], start_usage, stop_reason=None)
        if ask.choices is not None:
            block = {"type": "tool_use", "id": "toolu_fake", "name": "choose", "input": {}}
        else:
            block = {"type": "text", "text": ""}
        return [
            self.sse({"type": "message_start", "message": message}, "message_start"),
            self.sse(
                {"type": "content_block_start", "index": 0, "content_block": block},
                "content_block_start",
            ),
            self.sse({"type": "ping"}, "ping"),
        ]

    def stream_delta(self, ask, piece, index):
        delta = {"type": "text_delta", "text": piece}
        return self.sse(
            {"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta"
        )

    def stream_closing(self, ask, usage, *, omit_end_marker, stop=None):
        delta: dict[str, Any] = {"stop_reason": stop or "end_turn", "stop_sequence": None}
        if stop == "refusal":
            delta["stop_details"] = self._refusal_details()
        message_delta: dict[str, Any] = {"type": "message_delta", "delta": delta}
        if usage is not None:
            message_delta["usage"] = {"output_tokens": usage["output_tokens"]}
        events = [
            self.sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            self.sse(message_delta, "message_delta"),
        ]
        if not omit_end_marker:
            events.append(self.sse({"type": "message_stop"}, "message_stop"))
        return events

    def stream_refusal(self, ask, usage, error_code):
        return self.stream_preamble(ask, usage) + self.stream_closing(
            ask, usage, omit_end_marker=False, stop="refusal"
        )

    def malformed_event(self):
        return "event: content_block_delta\ndata: {not valid json\n\n"


class _Gemini(_Dialect):
    name = "gemini"
    sse_line_end = "\r\n"  # what the real Gemini API sends

    _STATUS = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
        529: "UNAVAILABLE",
    }

    def parse(self, body, model_from_path, query, path):
        contents = body.get("contents") or []
        users = [c for c in contents if c.get("role", "user") == "user"]
        config = body.get("generationConfig") or {}
        choices = None
        if config.get("responseMimeType") in ("text/x.enum", "application/json"):
            choices = _first_enum(config.get("responseSchema") or config.get("responseJsonSchema"))
        return _Ask(
            model=model_from_path or "",
            stream=path.endswith(":streamGenerateContent"),
            last_user_text=_text_of_content(users[-1].get("parts")) if users else "",
            ends_with_assistant=bool(contents) and contents[-1].get("role") == "model",
            choices=choices,
            input_chars=sum(len(_text_of_content(c.get("parts"))) for c in contents),
            **_continuation_of(
                [
                    (
                        "assistant" if c.get("role") == "model" else "user",
                        _text_of_content(c.get("parts")),
                    )
                    for c in contents
                ]
            ),
        )

    def error_body(self, status, message, code=None):
        return {
            "error": {
                "code": status,
                "message": message,
                "status": self._STATUS.get(status, "UNKNOWN"),
            }
        }

    def context_too_long(self):
        message = "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
        return 400, self.error_body(400, message)

    def _usage(self, usage):
        return {
            "promptTokenCount": usage["input_tokens"],
            "candidatesTokenCount": usage["output_tokens"],
            "totalTokenCount": usage["input_tokens"] + usage["output_tokens"],
        }

    def _response(self, text, usage, finish_reason="STOP", safety=False):
        candidate: dict[str, Any] = {"index": 0}
        if text:
            candidate["content"] = {"role": "model", "parts": [{"text": text}]}
        if finish_reason:
            candidate["finishReason"] = finish_reason
        if safety:
            candidate["safetyRatings"] = [
                {
                    "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
                    "probability": "HIGH",
                    "blocked": True,
                }
            ]
        body: dict[str, Any] = {"candidates": [candidate], "modelVersion": "fake"}
        if usage is not None:
            body["usageMetadata"] = self._usage(usage)
        return body

    def refusal_response(self, ask, usage, error_code):
        return 200, self._blocked(usage, error_code)

    def _blocked(self, usage, error_code):
        if error_code == "prompt_blocked":
            body: dict[str, Any] = {
                "promptFeedback": {"blockReason": "SAFETY"},
                "modelVersion": "fake",
            }
            if usage is not None:
                body["usageMetadata"] = {
                    "promptTokenCount": usage["input_tokens"],
                    "totalTokenCount": usage["input_tokens"],
                }
            return body
        return self._response("", usage, finish_reason="SAFETY", safety=True)

    max_tokens_stop = "MAX_TOKENS"

    def complete_body(self, ask, text, usage, stop=None):
        return self._response(text, usage, finish_reason=stop or "STOP")

    def stream_delta(self, ask, piece, index):
        return self.sse(self._response(piece, None, finish_reason=""))

    def stream_closing(self, ask, usage, *, omit_end_marker, stop=None):
        # Gemini has no end-of-stream event to omit: the last chunk carries finishReason (and
        # usage), and a stream without it was cut short (`end_after_chunks`).
        return [self.sse(self._response("", usage, finish_reason=stop or "STOP"))]

    def stream_refusal(self, ask, usage, error_code):
        return [self.sse(self._blocked(usage, error_code))]


_DIALECTS: dict[str, _Dialect] = {d.name: d for d in (_OpenAI(), _Anthropic(), _Gemini())}

_GEMINI_PATH = re.compile(
    r"^/v1beta/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)$"
)
_GEMINI_EMBED_PATH = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):batchEmbedContents$")

EMBEDDING_DIMENSIONS = 64


def fake_embedding(text: str, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """A deterministic embedding: each lower-cased word hashed to a dimension (crc32), then
    L2-normalised. Texts sharing words are similar; tests can compute the expected vector."""
    import zlib

    vector = [0.0] * dimensions
    for word in re.findall(r"\w+", text.lower()):
        vector[zlib.crc32(word.encode()) % dimensions] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


# --- The server ------------------------------------------------------------------------------


class _State:
    """Scripts and recorded requests, shared by the handler threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.scripts: list[_Script] = []
        self.requests: list[RecordedRequest] = []
        self.models: list[str] = list(DEFAULT_MODELS)

    def take_switches(self, model: str | None) -> dict[str, Any]:
        """The newest matching script's switches; a model-specific script beats a wildcard."""
        with self.lock:
            candidates = [
                s for s in reversed(self.scripts) if s.model is not None and s.model == model
            ]
            candidates += [s for s in reversed(self.scripts) if s.model is None]
            if not candidates:
                return {}
            script = candidates[0]
            if script.remaining is not None:
                script.remaining -= 1
                if script.remaining <= 0:
                    self.scripts.remove(script)
            return dict(script.switches)


class _Handler(BaseHTTPRequestHandler):
    # Each SSE event is a small write; with Nagle on, every one waits for the peer's delayed
    # ACK (~40 ms on Linux), which no real provider does and which would swamp timings.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean

    # -- plumbing --

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def _send_json(
        self, status: int, payload: Any, extra_headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _complete(self, payload: Any, sw: dict[str, Any], extra: dict[str, str]) -> None:
        """A non-streamed answer. The stream faults apply to its body: `malformed_chunk_at`
        sends a body that is not JSON, `drop_after_chunks` closes the socket halfway through
        it, `stall_after_chunks` pauses there for `stall_seconds`."""
        cut = sw.get("drop_after_chunks") is not None or sw.get("stall_after_chunks") is not None
        if sw.get("malformed_chunk_at") is None and not cut:
            self._send_json(200, payload, extra)
            return
        data = json.dumps(payload).encode()
        if sw.get("malformed_chunk_at") is not None:
            data = data[: len(data) // 2] + b"{not json"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        if not cut:
            self.wfile.write(data)
            self.wfile.flush()
            return
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        if sw.get("drop_after_chunks") is not None:
            self._abort()
            return
        self._hold(sw.get("stall_seconds", FOREVER))
        self._abort()

    def _write_chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _hold(self, seconds: Any) -> None:
        """Send nothing for `seconds` (FOREVER: until the client hangs up).

        With a fake clock attached, nothing sleeps: the hold is the clock's to settle (a client
        deadline either waits it out in virtual time or expires on it)."""
        clock = self.server.fake.clock
        if clock is not None:
            clock.hold(math.inf if seconds == FOREVER else float(seconds), self._client_gone)
            return
        if seconds != FOREVER:
            time.sleep(float(seconds))
            return
        deadline = time.monotonic() + _FOREVER_CAP
        while time.monotonic() < deadline and not self._client_gone(0.05):
            pass

    def _client_gone(self, wait: float = 0.0) -> bool:
        readable, _, _ = select.select([self.connection], [], [], wait)
        if not readable:
            return False
        try:
            return not self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return True

    def _abort(self) -> None:
        """Close the socket without finishing the HTTP message."""
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may have hung up first
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- routing --

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        body = self._read_body() if method == "POST" else None
        try:
            if url.path.startswith("/_fake/"):
                self._control(method, url.path, body)
            else:
                self._provider(method, url.path, query, body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its timeout fired); nothing left to tell it.
            self.close_connection = True
        except ValueError as exc:
            # A bad x-fake-switches header: say so instead of dropping the connection.
            self._send_json(400, {"error": {"message": f"fake upstream: {exc}"}})

    def _control(self, method: str, path: str, body: Any) -> None:
        fake = self.server.fake
        try:
            if method == "POST" and path == "/_fake/script":
                spec = dict(body or {})
                fake.script(model=spec.pop("model", None), times=spec.pop("times", None), **spec)
                self._send_json(200, {"ok": True})
            elif method == "POST" and path == "/_fake/reset":
                fake.reset()
                self._send_json(200, {"ok": True})
            elif method == "GET" and path == "/_fake/requests":
                self._send_json(200, [_recorded_as_json(r) for r in fake.requests])
            else:
                self._send_json(404, {"error": f"no control endpoint {method} {path}"})
        except ValueError as exc:
            self._send_json(400, {"error": str(exc)})

    def _provider(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> None:
        route = self._route(method, path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        if route is None:
            self._record(method, path, query, headers, body, None, None)
            self._send_json(
                404, {"error": {"message": f"fake upstream has no route {method} {path}"}}
            )
            return
        dialect, kind, model_from_path = route
        if kind == "embed":
            self._embed(dialect, path, query, headers, body, model_from_path)
            return
        if kind == "models":
            self._record(method, path, query, headers, body, None, dialect.name)
            self._send_models(dialect)
            return
        ask = dialect.parse(body if isinstance(body, dict) else {}, model_from_path, query, path)
        self._record(method, path, query, headers, body, ask.model, dialect.name)
        switches = self.server.fake._state.take_switches(ask.model)
        if "x-fake-switches" in headers:
            switches.update(json.loads(headers["x-fake-switches"]))
        check_switches(switches)
        self._answer(dialect, ask, switches)

    @staticmethod
    def _route(method: str, path: str) -> tuple[_Dialect, str, str | None] | None:
        if method == "POST" and path == "/v1/chat/completions":
            return _DIALECTS["openai"], "chat", None
        if method == "GET" and path == "/v1/models":
            return _DIALECTS["openai"], "models", None
        if method == "POST" and path == "/v1/embeddings":
            return _DIALECTS["openai"], "embed", None
        if method == "POST" and path == "/v1/messages":
            return _DIALECTS["anthropic"], "chat", None
        if method == "GET" and path == "/v1beta/models":
            return _DIALECTS["gemini"], "models", None
        embed = _GEMINI_EMBED_PATH.match(path)
        if method == "POST" and embed:
            return _DIALECTS["gemini"], "embed", embed["model"]
        match = _GEMINI_PATH.match(path)
        if method == "POST" and match:
            return _DIALECTS["gemini"], "chat", match["model"]
        return None

    def _record(self, method, path, query, headers, body, model, provider) -> None:
        entry = RecordedRequest(method, path, query, headers, body, model, provider)
        with self.server.fake._state.lock:
            self.server.fake._state.requests.append(entry)

    def _send_models(self, dialect: _Dialect) -> None:
        models = self.server.fake.models
        if dialect.name == "gemini":
            self._send_json(
                200, {"models": [{"name": f"models/{m}", "displayName": m} for m in models]}
            )
            return
        # OpenAI's shape; the Anthropic SDK reads the same `data[].id` list.
        self._send_json(
            200,
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in models
                ],
            },
        )

    # -- embeddings --

    def _embed(self, dialect, path, query, headers, body, model_from_path) -> None:
        """OpenAI `/v1/embeddings` or Gemini `:batchEmbedContents`, with `fake_embedding`
        vectors and the error/delay/reset switches chat requests have."""
        body = body if isinstance(body, dict) else {}
        if dialect.name == "gemini":
            model = model_from_path or ""
            texts = [
                _text_of_content((r.get("content") or {}).get("parts"))
                for r in body.get("requests") or []
            ]
        else:
            model = str(body.get("model", ""))
            raw = body.get("input")
            texts = [raw] if isinstance(raw, str) else [str(t) for t in raw or []]
        self._record("POST", path, query, headers, body, model, dialect.name)
        sw = self.server.fake._state.take_switches(model)
        if "x-fake-switches" in headers:
            sw.update(json.loads(headers["x-fake-switches"]))
        check_switches(sw)
        if sw.get("reset_before_headers"):
            self._abort()
            return
        if sw.get("delay_first_byte"):
            self._hold(sw["delay_first_byte"])
        extra = {"Retry-After": str(sw["retry_after"])} if sw.get("retry_after") is not None else {}
        if sw.get("status"):
            status = int(sw["status"])
            self._send_json(
                status, dialect.error_body(status, f"Fake upstream error {status}"), extra
            )
            return
        vectors = [fake_embedding(t) for t in texts]
        if dialect.name == "gemini":
            self._send_json(200, {"embeddings": [{"values": v} for v in vectors]}, extra)
            return
        tokens = sum(len(t.split()) for t in texts)
        self._send_json(
            200,
            {
                "object": "list",
                "model": model,
                "data": [
                    {"object": "embedding", "index": i, "embedding": v}
                    for i, v in enumerate(vectors)
                ],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            extra,
        )

    # -- answering --

    def _answer(self, dialect: _Dialect, ask: _Ask, sw: dict[str, Any]) -> None:
        if sw.get("reset_before_headers"):
            self._abort()
            return
        if sw.get("delay_first_byte"):
            self._hold(sw["delay_first_byte"])
        extra = {"Retry-After": str(sw["retry_after"])} if sw.get("retry_after") is not None else {}
        usage = self._usage(ask, sw)
        error_code = sw.get("error_code")

        if sw.get("status"):
            status = int(sw["status"])
            self._send_json(
                status, dialect.error_body(status, f"Fake upstream error {status}"), extra
            )
            return
        if error_code == "context_length_exceeded":
            status, payload = dialect.context_too_long()
            self._send_json(status, payload, extra)
            return
        if sw.get("reject_prefill") and ask.ends_with_assistant:
            message = "This model does not support assistant message prefill."
            self._send_json(400, dialect.error_body(400, message), extra)
            return
        if error_code and not ask.stream:
            status, payload = dialect.refusal_response(ask, usage, error_code)
            self._send_json(status, payload, extra)
            return
        if error_code:
            events = dialect.stream_refusal(ask, usage, error_code)
            if events is None:
                status, payload = dialect.refusal_response(ask, usage, error_code)
                self._send_json(status, payload, extra)
            else:
                self._stream(list(events), [], [], {}, extra)
            return

        text = self._reply_text(ask, sw)
        stop = dialect.max_tokens_stop if sw.get("max_tokens_reached") else None
        if not ask.stream:
            self._complete(dialect.complete_body(ask, text, usage, stop), sw, extra)
            return
        pieces = [text] if ask.choices is not None else _words(text)
        if ask.choices is not None and dialect.name == "anthropic":
            # A forced tool streams its input as JSON fragments.
            deltas = [_anthropic_json_delta(json.dumps(_structured(text)))]
        elif ask.choices is not None and dialect.name == "openai":
            deltas = [dialect.stream_delta(ask, json.dumps(_structured(text)), 0)]
        else:
            deltas = [dialect.stream_delta(ask, piece, i) for i, piece in enumerate(pieces)]
        closing = dialect.stream_closing(
            ask, usage, omit_end_marker=bool(sw.get("omit_end_marker")), stop=stop
        )
        self._stream(dialect.stream_preamble(ask, usage), deltas, closing, sw, extra, dialect)

    @staticmethod
    def _reply_text(ask: _Ask, sw: dict[str, Any]) -> str:
        if sw.get("on_continue") and ask.partial is not None:
            return _continued(ask, sw)
        if sw.get("reply") is not None:
            return str(sw["reply"])
        if ask.choices is not None:
            return ask.choices[0] if ask.choices else ""
        return f"Fake reply from {ask.model}: {ask.last_user_text[:60]}"

    def _usage(self, ask: _Ask, sw: dict[str, Any]) -> dict[str, int] | None:
        if "usage" in sw:
            return (
                None
                if sw["usage"] is None
                else {
                    "input_tokens": int(sw["usage"]["input_tokens"]),
                    "output_tokens": int(sw["usage"]["output_tokens"]),
                }
            )
        text = self._reply_text(ask, sw)
        # Deliberately unlike our own estimator (chars/4 + overheads) so tests can tell them apart.
        return {"input_tokens": 7 + ask.input_chars // 3, "output_tokens": 3 + len(text.split())}

    def _stream(
        self,
        preamble: list[str],
        deltas: list[str],
        closing: list[str],
        sw: dict[str, Any],
        extra: dict[str, str],
        dialect: _Dialect | None = None,
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.flush()
        if sw.get("slow_first_token"):
            self._hold(sw["slow_first_token"])
        for event in preamble:
            self._write_chunk(event)
        for index, event in enumerate(deltas):
            if sw.get("drop_after_chunks") is not None and index >= int(sw["drop_after_chunks"]):
                self._abort()
                return
            if sw.get("end_after_chunks") is not None and index >= int(sw["end_after_chunks"]):
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                return
            if sw.get("stall_after_chunks") is not None and index == int(sw["stall_after_chunks"]):
                self._hold(sw.get("stall_seconds", FOREVER))
            if (
                dialect is not None
                and sw.get("malformed_chunk_at") is not None
                and index == int(sw["malformed_chunk_at"])
            ):
                self._write_chunk(dialect.malformed_event())
            self._write_chunk(event)
        if sw.get("drop_after_chunks") is not None and int(sw["drop_after_chunks"]) >= len(deltas):
            self._abort()  # dropped after the last text, before the closing events
            return
        for event in closing:
            self._write_chunk(event)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _continued(ask: _Ask, sw: dict[str, Any]) -> str:
    """What a model asked to continue `ask.partial` replies, per the `on_continue` switch."""
    whole = str(sw.get("reply") or "")
    partial = ask.partial or ""
    how = sw["on_continue"]
    if how == "restart":
        return whole
    if how == "repeat":
        return "Sure, here is the whole answer again: " + whole
    if how == "ignore":
        return f"Fake reply from {ask.model}: {ask.last_user_text[:60]}"
    if how not in ("continue", "overlap"):
        raise ValueError("on_continue must be continue, restart, repeat, overlap or ignore")
    if not whole.startswith(partial.rstrip()):
        raise ValueError("on_continue: the partial answer is not the start of `reply`")
    cut = len(partial.rstrip())
    if how == "overlap":
        cut = len(" ".join(partial.split()[:-2]))
    if ask.anchor is not None:
        # Asked to begin with the last words shown: start where they start.
        cut = partial.rstrip().rfind(ask.anchor)
    return whole[cut:]


def _anthropic_json_delta(partial_json: str) -> str:
    payload = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "input_json_delta", "partial_json": partial_json},
    }
    return f"event: content_block_delta\ndata: {json.dumps(payload)}\n\n"


def _recorded_as_json(entry: RecordedRequest) -> dict[str, Any]:
    return {
        "method": entry.method,
        "path": entry.path,
        "query": entry.query,
        "headers": entry.headers,
        "body": entry.body,
        "model": entry.model,
        "provider": entry.provider,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler sleeping on a stall must not block interpreter exit
    allow_reuse_address = True
    fake: FakeUpstream

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hang up on purpose here (timeouts, dropped streams, pooled keep-alive
        # connections closed between tests); only a real bug deserves a traceback.
        import sys

        if isinstance(sys.exception(), (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


@dataclass
class FakeUpstream:
    """The fake LLM server. Use as a context manager, or `start()` / `stop()`."""

    host: str = "127.0.0.1"
    port: int = 0
    # A `tests.fakeclock.FakeClock`: delays and stalls then happen in its virtual time.
    clock: Any = None
    _state: _State = field(default_factory=_State, init=False, repr=False)
    _server: _Server | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    # -- lifecycle --

    def start(self) -> FakeUpstream:
        server = _Server((self.host, self.port), _Handler)
        server.fake = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="fake-upstream", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses --

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def base_url(self, kind: str) -> str:
        """The `ProviderConfig.base_url` each SDK expects for this server."""
        return {
            "openai": f"{self.url}/v1",
            "openai_compatible": f"{self.url}/v1",
            "anthropic": self.url,
            "gemini": self.url,
        }[kind]

    # -- scripting --

    def script(self, model: str | None = None, times: int | None = None, **switches: Any) -> None:
        """Make requests for `model` (None: any model) behave per `switches`, `times` times."""
        check_switches(switches)
        if times is not None and times < 1:
            raise ValueError("times must be at least 1")
        with self._state.lock:
            self._state.scripts.append(_Script(model, times, switches))

    def reset(self) -> None:
        self.clock = None
        with self._state.lock:
            self._state.scripts.clear()
            self._state.requests.clear()
            self._state.models = list(DEFAULT_MODELS)

    @property
    def models(self) -> list[str]:
        with self._state.lock:
            return list(self._state.models)

    @models.setter
    def models(self, value: list[str]) -> None:
        with self._state.lock:
            self._state.models = list(value)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    def requests_to(self, provider: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.provider == provider]


def decode_base64(data: str) -> bytes:
    """Wire images are base64; Gemini's SDK may use the URL-safe alphabet."""
    padded = data + "=" * (-len(data) % 4)
    return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
