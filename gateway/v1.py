"""The OpenAI-compatible API: `POST /v1/chat/completions` and `GET /v1/models`.

Any OpenAI client can use a router: `model` is `router:<slug>`, `router:<slug>/<tier>` (that
tier of the router answers; an unknown tier is a 400 `unknown_tier`), a router's bare slug,
or a catalog model `provider/model-id`. Bearer tokens only (no session, hence no CSRF).

Streaming waits for the first token before sending headers. That costs nothing (the client
waits for it anyway) and buys two things: the `x-routerweb-model` header and the chunks'
`model` name the model that really answered, after any failover; and a chain that fails
before any text gets a real HTTP status (429, 502, 503) that clients and their retry logic
understand. A non-streaming request gets one model's complete answer (a failed attempt is
thrown away and the next model restarts), never a splice.

Once text has been streamed, a model that fails is continued by the next one only when the
continuation is verified (`providers.failover`); from then on each chunk's `model` names every
model that contributed, in order ("a, b"), and so does the final usage chunk. When the answer
cannot be finished, the stream ends with an `{"error": …}` event — which the openai SDK raises
as `APIError` — after the text received; no `finish_reason: stop` and no `[DONE]`.

Errors use OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import io
import json
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Annotated, Any, Literal

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.db import connections
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from accounts.auth import bearer_token_from
from accounts.tokens import AUTH_VERSION_KEY, aapi_token_identify
from decisions.log import batched, via_broker
from governance.limits import LimitHit, rate_check, stream_end, stream_start
from governance.spend import spend_batched
from planning.planner import (
    ROUTER_PREFIX,
    Outcome,
    Plan,
    PlanRequest,
    TierNotFound,
    outcome_of,
    plan_message,
    settle,
    turns_of_messages,
)
from providers import breaker
from providers.adapters.base import (
    ALLOWED_IMAGE_TYPES,
    ChatMessage,
    ChatRequest,
    ImagePart,
    ProviderError,
)
from providers.failover import ChainResult, Policy, run_chain
from providers.images import image_size_problem, images_problem
from providers.selectors import catalog_list_enabled
from routers import config_version
from routers.routing import noting_verdict_keys
from routers.selectors import router_list_usable_by
from routers.versions import router_published
from routerweb import observability, shared_cache
from routerweb.db import run_db
from routerweb.http import header_value

logger = logging.getLogger(__name__)

# --- request schema (what OpenAI clients send; unknown fields are accepted and ignored) -----


MAX_OUTPUT_TOKENS = 1_000_000


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextPart(_Open):
    type: Literal["text"]
    text: str


class ImageUrl(_Open):
    url: str
    detail: str | None = None


class ImageUrlPart(_Open):
    type: Literal["image_url"]
    image_url: ImageUrl


ContentPart = Annotated[TextPart | ImageUrlPart, Field(discriminator="type")]


class MessageIn(_Open):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ContentPart] | None = None


class StreamOptions(_Open):
    include_usage: bool = False


class ChatCompletionIn(_Open):
    model: str = Field(min_length=1, max_length=400)
    messages: list[MessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    # No model writes a million tokens; a larger number is a mistake (or a probe), not a wish.
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    n: int | None = Field(default=None, ge=1, le=1)
    tools: list[Any] | None = None


# --- errors ---------------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type, "param": param, "code": code}}
        self.headers = headers or {}

    def response(self) -> JsonResponse:
        response = JsonResponse(self.body, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


def _limit_error(hit: LimitHit) -> ApiError:
    return ApiError(
        429,
        hit.message,
        type="requests",
        code="rate_limit_exceeded",
        headers={"retry-after": str(hit.retry_after)},
    )


def _unauthorized() -> ApiError:
    return ApiError(
        401,
        "Missing or invalid API key. Send 'Authorization: Bearer rw_…' with a token from your account's API tokens page.",
        code="invalid_api_key",
    )


def _param_of(loc: tuple[Any, ...]) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")


def _failure(result: ChainResult) -> ApiError:
    """The status for a chain in which no model answered, from what the attempts said."""
    kinds = [a.get("error") for a in result.attempts if not a.get("ok")]
    if not kinds and result.error is not None:
        kinds = [result.error.kind]
    detail = "; ".join(
        f"{a.get('model')}: {a.get('error')}" for a in result.attempts if not a.get("ok")
    )
    last = result.error.message if result.error is not None else "no model produced an answer"
    if kinds and all(k == "rate_limited" for k in kinds):
        return ApiError(
            429,
            f"Every model is rate-limited ({detail}). Retry later.",
            type="rate_limit_error",
            code="rate_limit_exceeded",
        )
    if kinds and all(k == "context_too_long" for k in kinds):
        return ApiError(
            400,
            f"The conversation is too long for every model in the chain ({detail}).",
            code="context_length_exceeded",
            param="messages",
        )
    if kinds and all(k in ("bad_request", "content_filter") for k in kinds):
        return ApiError(400, f"The provider rejected the request: {last}", code=kinds[-1])
    status = 503 if kinds and all(k in ("unavailable", "timeout") for k in kinds) else 502
    return ApiError(
        status,
        f"Every model failed ({detail or last}).",
        type="server_error",
        code="upstream_error",
    )


def _cut_off(result: ChainResult) -> ApiError:
    """The error that ends a stream whose text was already sent."""
    error = result.error
    if error is None:
        return _failure(result)
    return ApiError(
        502,
        f"The answer was cut off after {len(result.text):,} characters and no model in the "
        f"chain could verifiably continue it ({error.kind}: {error.message}). The text "
        "received so far is incomplete.",
        type="server_error",
        code="answer_cut_off",
    )


# --- converting the request -------------------------------------------------------------------


def _image(url: str, param: str) -> ImagePart:
    if not url.startswith("data:"):
        raise ApiError(
            400,
            "Image URLs are not fetched by this server; send the image inline as a data URL "
            "(data:image/png;base64,…).",
            param=param,
            code="invalid_image_url",
        )
    header, sep, data = url[5:].partition(",")
    mime, _, encoding = header.partition(";")
    if not sep or encoding != "base64":
        raise ApiError(
            400,
            "An image data URL must be base64: data:image/png;base64,…",
            param=param,
            code="invalid_image_url",
        )
    if mime not in ALLOWED_IMAGE_TYPES:
        raise ApiError(
            400,
            f"Images must be PNG, JPEG, GIF or WebP, not {mime or 'unknown'}.",
            param=param,
            code="invalid_image_format",
        )
    if len(data) * 3 // 4 > settings.MAX_IMAGE_BYTES:
        raise ApiError(
            413,
            f"An image is larger than {settings.MAX_IMAGE_BYTES // (1024 * 1024)} MB.",
            param=param,
            code="image_too_large",
        )
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(
            400, "The image data URL is not valid base64.", param=param, code="invalid_image_url"
        ) from None
    problem = _pixels_problem(raw)
    if problem:
        raise ApiError(400, f"The image {problem}.", param=param, code="image_too_large")
    return ImagePart(mime_type=mime, data=raw)


def _pixels_problem(raw: bytes) -> str | None:
    """The declared size, from the header only (nothing is decoded here): a provider would
    be asked to decode a "decompression bomb". What Pillow cannot identify is left to the
    provider, as before."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as img:
            return image_size_problem(*img.size)
    except Image.DecompressionBombError:
        return (
            "declares more pixels than this server accepts; the limit is "
            f"{settings.MAX_IMAGE_PIXELS / 1_000_000:g} million pixels"
        )
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None


def to_chat_request(body: ChatCompletionIn) -> ChatRequest:
    """OpenAI messages → the adapters' request: system text apart, same-role neighbours merged
    (some providers require alternating roles), images decoded."""
    if body.tools:
        raise ApiError(
            400, "Tools and function calling are not supported by routerweb's API.", param="tools"
        )
    system: list[str] = []
    merged: list[ChatMessage] = []
    total = 0
    for i, message in enumerate(body.messages):
        texts: list[str] = []
        images: list[ImagePart] = []
        if isinstance(message.content, str):
            texts.append(message.content)
        else:
            for j, part in enumerate(message.content or []):
                if isinstance(part, TextPart):
                    texts.append(part.text)
                else:
                    images.append(
                        _image(part.image_url.url, f"messages[{i}].content[{j}].image_url")
                    )
        problem = images_problem([len(image.data) for image in images])
        if problem:
            raise ApiError(400, problem, param=f"messages[{i}].content", code="too_many_images")
        text = "\n".join(texts)
        total += len(text)
        if message.role in ("system", "developer"):
            if images:
                raise ApiError(
                    400, "System messages cannot carry images.", param=f"messages[{i}].content"
                )
            system.append(text)
            continue
        role: Literal["user", "assistant"] = "assistant" if message.role == "assistant" else "user"
        if merged and merged[-1].role == role:
            prev = merged[-1]
            merged[-1] = ChatMessage(
                role=role, text=f"{prev.text}\n\n{text}".strip(), images=prev.images + tuple(images)
            )
        else:
            merged.append(ChatMessage(role=role, text=text, images=tuple(images)))
    if total > settings.MAX_MESSAGE_CHARS:
        raise ApiError(
            413,
            f"The messages hold {total:,} characters; the limit is {settings.MAX_MESSAGE_CHARS:,}.",
            param="messages",
            code="request_too_large",
        )
    if not any(m.role == "user" for m in merged):
        raise ApiError(400, "Send at least one user message.", param="messages")
    return ChatRequest(
        model="",
        messages=tuple(merged),
        system="\n\n".join(s for s in system if s),
        temperature=body.temperature,
        max_tokens=body.max_completion_tokens or body.max_tokens,
    )


MAX_BODY_DEPTH = 32  # a chat request nests ~6 levels; deeper only makes validators recurse
_TOO_DEEP = f"The request body nests JSON more than {MAX_BODY_DEPTH} levels deep."


def body_problem(data: Any) -> str | None:
    """What is wrong with a parsed body at any depth, before pydantic recurses into it:
    nesting, a NUL character (no stored text may hold one) or a lone surrogate ("\\ud800",
    which no UTF-8 request to a provider can carry)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "The request contains a NUL character (\\u0000); remove it."
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return (
                        "The request contains a lone surrogate (like \\ud800), which is not text."
                    )
        elif isinstance(value, (dict, list)):
            if depth > MAX_BODY_DEPTH:
                return _TOO_DEEP
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                stack.append((key, depth))
                stack.append((item, depth + 1))
    return None


def _decode(request: HttpRequest) -> Any:
    """The parsed JSON body, or the ApiError that refuses it (raised later, after the token
    has been checked: a bad token is a 401 whatever the body)."""
    try:
        raw = request.body
    except RequestDataTooBig:
        return ApiError(413, "The request body is too large.", code="request_too_large")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return ApiError(400, "The request body is not valid JSON.")
    except RecursionError:  # nested deeper than json.loads goes
        return ApiError(400, _TOO_DEEP, code="invalid_request_body")


def _validate(data: Any) -> ChatCompletionIn:
    if isinstance(data, ApiError):
        raise data
    problem = body_problem(data)
    if problem:
        raise ApiError(400, problem, code="invalid_request_body")
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    try:
        return ChatCompletionIn.model_validate(data)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        param = _param_of(first["loc"])
        return_msg = f"{param}: {first['msg']}" if param else first["msg"]
        raise ApiError(400, f"Invalid request: {return_msg}", param=param or None) from None


# The models the last call naming each `model` tried first: the next such call reads their
# circuit-breaker state in the same round trip as the token's and the routing configuration's
# versions (`shared_cache.prefetch`). A wrong guess costs nothing but a key read for nothing.
_LIKELY_SIZE = 1024
_likely_refs: dict[str, tuple[str, ...]] = {}


def _prefetch_keys(data: Any, body: int | None) -> list[str]:
    name = data.get("model") if isinstance(data, dict) else None
    refs = _likely_refs.get(name, ()) if isinstance(name, str) else ()
    verdicts = _likely_verdicts.get(body, ()) if body is not None else ()
    return [AUTH_VERSION_KEY, config_version.KEY, *breaker.prefetch_keys(refs), *verdicts]


# The classifier verdicts the last call with the very same body looked up (by the body's
# hash; bodies over `_GUESSED_BODY_BYTES` are not hashed): a repeated question to a router with
# LLM rules finds its cached verdict in the prefetch instead of a round trip of its own. A
# wrong guess (another router revision, a collision) costs a key read for nothing.
_GUESSED_BODY_BYTES = 64 * 1024
_likely_verdicts: dict[int, tuple[str, ...]] = {}


def _body_key(request: HttpRequest, data: Any) -> int | None:
    # Without a prefetch (the embedded default) a guess would never be read: no hashing.
    if isinstance(data, ApiError) or not shared_cache.prefetches():
        return None
    body = request.body
    return hash(body) if len(body) <= _GUESSED_BODY_BYTES else None


def _remember[K](memo: dict[K, tuple[str, ...]], key: K, guess: tuple[str, ...]) -> None:
    """Keep `guess` for the next call with `key` (an empty one is forgotten). A full memo is
    emptied: a guess is only worth a key read, and the next calls make new ones."""
    if not guess:
        memo.pop(key, None)
    elif memo.get(key) != guess:
        if len(memo) >= _LIKELY_SIZE:
            memo.clear()
        memo[key] = guess


# --- responses --------------------------------------------------------------------------------


def _models(result: ChainResult) -> str:
    """Every model whose text is in the answer, in order."""
    return ", ".join(result.models) or (result.answered_by or "")


def _headers(plan: Plan, models: str) -> dict[str, str]:
    # Names and refs come from the database: encoded, so no value can break the response.
    headers = {
        "x-routerweb-model": header_value(models),
        "x-routerweb-rule": header_value(plan.facts.rule_name),
        "x-routerweb-decision": plan.uid,
    }
    budget = plan.facts.budget
    if budget:
        # Fields separated by "; ": the name's own ";" and "=" are encoded, so a client may
        # split first and unquote each field, or unquote the whole line to read it.
        name = header_value(budget["name"], reserved=";=")
        headers["x-routerweb-budget"] = (
            f"{name}; step={header_value(budget['step'])}; "
            f"used={header_value(str(budget['percent']) + '%')}"
        )
    policy = plan.facts.policy
    if policy:
        # Names the policies and the kind of data, never the data.
        headers["x-routerweb-policy"] = header_value(policy["summary"])
    return headers


def _usage_json(outcome: Outcome) -> dict[str, int]:
    usage = outcome.usage
    prompt, completion = (usage.input_tokens, usage.output_tokens) if usage else (0, 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion_json(plan: Plan, result: ChainResult, outcome: Outcome, created: int) -> dict:
    return {
        "id": f"chatcmpl-{plan.uid}",
        "object": "chat.completion",
        "created": created,
        "model": _models(result),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.text, "refusal": None},
                "finish_reason": result.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": _usage_json(outcome),
    }


class _Chunks:
    """Pre-rendered `chat.completion.chunk` framing: per token we only JSON-encode the text."""

    def __init__(self, uid: str, model: str, created: int) -> None:
        head = json.dumps(
            {
                "id": f"chatcmpl-{uid}",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
            }
        )[:-1]
        self._head = head
        self._content = f'data: {head}, "choices": [{{"index": 0, "delta": {{"content": '

    def role(self) -> bytes:
        return self._event(
            '"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]'
        )

    def text(self, text: str) -> bytes:
        return f'{self._content}{json.dumps(text)}}}, "finish_reason": null}}]}}\n\n'.encode()

    def stop(self, reason: str = "stop") -> bytes:
        return self._event(
            f'"choices": [{{"index": 0, "delta": {{}}, "finish_reason": {json.dumps(reason)}}}]'
        )

    def usage(self, usage: dict[str, int]) -> bytes:
        return self._event(f'"choices": [], "usage": {json.dumps(usage)}')

    def _event(self, tail: str) -> bytes:
        return f"data: {self._head}, {tail}}}\n\n".encode()


def _sse_error(error: ApiError) -> bytes:
    return f"data: {json.dumps(error.body)}\n\n".encode()


_DONE = b"data: [DONE]\n\n"


# --- views ------------------------------------------------------------------------------------


@csrf_exempt
@login_not_required
@require_POST
async def chat_completions(request: HttpRequest) -> HttpResponse:
    started = time.perf_counter()
    span = None
    slot_taken = False  # a stream slot (governance.limits) to give back if this call fails
    entry = None
    try:
        data = _decode(request)
        # Everything this call reads from the shared cache before the model answers, in one
        # round trip (with Redis): the auth and routing-config versions, the likely models'
        # circuit breakers, the classifier verdicts the same body needed last time.
        body_key = _body_key(request, data)
        await shared_cache.prefetch(_prefetch_keys(data, body_key))
        entry = await aapi_token_identify(bearer_token_from(request))
        if entry is None:
            raise _unauthorized()
        body = _validate(data)
        limited = await rate_check(user_id=entry.user.pk, token_id=entry.token_id)
        if limited is None and body.stream:
            limited = await stream_start(entry.user.pk)
            slot_taken = limited is None
        if limited is not None:
            raise _limit_error(limited)
        span = observability.start_request_span(body.model, stream=body.stream)
        chat_request = to_chat_request(body)
        routing_started = time.time_ns()
        verdict_keys = noting_verdict_keys()
        try:
            plan = await plan_message(
                PlanRequest(
                    user=entry.user,
                    turns=turns_of_messages(chat_request.messages),
                    name=body.model,
                    request=chat_request,
                    channel="api",
                    token_id=entry.token_id,
                    groups=entry.groups,
                )
            )
        except Http404 as exc:
            raise ApiError(404, str(exc), code="model_not_found", param="model") from None
        except TierNotFound as exc:
            raise ApiError(400, str(exc), code="unknown_tier", param="model") from None
        observability.routing_span(body.model, routing_started, plan.facts)
        _remember(_likely_refs, body.model, tuple(m.ref for m in plan.chain[:2]))
        if body_key is not None:
            _remember(_likely_verdicts, body_key, tuple(verdict_keys))
        chat_request = plan.request  # as the data policies let it leave
        refusal = _refusal(plan)
        if refusal is not None:
            # Logged as the chat logs a refused message: what refused and why, no attempt.
            refused = _Call(plan, chat_request, entry.user.pk, started=started)
            refused.result.error = ProviderError("bad_request", str(refusal))
            refused.log_later()
            raise refusal
    except ApiError as exc:
        if slot_taken and entry is not None:
            await stream_end(entry.user.pk)
        observability.api_rejected(exc.status, span)
        return exc.response()
    call = _Call(plan, chat_request, entry.user.pk, started=started, span=span)
    if body.stream:
        call.stream_slot = entry.user.pk
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return await call.stream_response(include_usage)
    return await call.json_response()


def _refusal(plan: Plan) -> ApiError | None:
    """The error of a plan that no model may answer (a budget, a data policy, nothing
    suitable), in OpenAI's shape; None when a model can answer."""
    budget = plan.budget
    if budget is not None and budget.refusal:
        return ApiError(
            429,
            budget.refusal,
            type="insufficient_quota",
            code="budget_exceeded",
            headers={"retry-after": str(budget.retry_after)},
        )
    if not plan.chain and plan.facts.policy:
        return ApiError(
            400,
            plan.problem or "A data policy refuses this request.",
            code="policy_refused",
            param="messages",
        )
    if not plan.chain:
        return ApiError(
            400, plan.problem or "No model can answer this request.", code="no_suitable_model"
        )
    return None


# Decisions are written by one background thread of their own (`_DecisionLogger`). Django
# runs `close()` on its single thread-sensitive executor, the same thread every request's ORM
# work waits for, so logging there would delay the next call's routing by the write.


class _DecisionLogger:
    """One thread that logs finished calls, a run of them at a time.

    Whatever has queued up while the previous run was written is written together: their
    records go out as one bulk INSERT (embedded default) or one broker message
    (`decisions.log.batched`). While calls keep coming the thread looks for more every
    `gather` seconds instead of being woken by each one: waking a thread from the answer's path
    costs that path a context switch per call. After `idle` seconds without work it blocks, gives
    its database connection back (also on an error, and when `flush` is asked), and the next
    call wakes it. Closing a connection per decision costs more than the decision (on SQLite
    closing the last connection checkpoints the write-ahead log), and a connection kept forever
    could go stale, or hold a database a test wants to drop. At interpreter exit whatever is
    queued is still written (`stop`, registered with atexit).

    `gather` is a tenth of a second when the decisions are written here (the embedded
    default), a quarter of a second with a broker: a decision shows in the log that much later
    at most, and each run carries more of them. With a broker each run is a task for the
    worker, whose fixed cost per message (decode, acknowledge, hand to a pool process, one
    transaction) was most of its CPU per answer when runs held one or two decisions: at
    concurrency 16 on the production stack, 0.25 s instead of 0.1 s took the worker's CPU per
    answer from about 1.1 to 0.7 ms and PostgreSQL's from 0.65 to 0.48 ms
    (bench/gateway_overhead.py's stack, CPU from /proc).
    """

    _MAX_RUN = 256

    GATHER_HERE = 0.1
    GATHER_FOR_BROKER = 0.25

    def __init__(self, *, idle: float = 1.0, gather: float | None = None) -> None:
        self._backlog: deque[Any] = deque()
        self._wake = threading.Event()
        self._polling = False  # the thread looks for work by itself: no need to wake it
        self._idle = idle
        self._gather = gather
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.runs = 0  # runs written so far (tests: calls are logged together)

    def gather(self) -> float:
        if self._gather is not None:
            return self._gather
        return self.GATHER_FOR_BROKER if via_broker() else self.GATHER_HERE

    def submit(self, call: _Call) -> None:
        self._put(call, wake=False)

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until every call queued so far is logged and the connection is given back."""
        if self._thread is None or not self._thread.is_alive():
            return True
        done = threading.Event()
        self._put(done, wake=True)
        return done.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._put(None, wake=True)
            self._thread.join(timeout)

    def _put(self, item: Any, *, wake: bool) -> None:
        self._ensure_thread()
        self._backlog.append(item)
        if wake or not self._polling:
            self._wake.set()

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="decision-log", daemon=True)
                self._thread.start()

    def _next(self) -> bool:
        """Wait for work: True when there is some."""
        if self._polling:
            waited, step = 0.0, self.gather() or self._idle
            while not self._backlog and waited < self._idle:
                if self._wake.wait(step):  # a flush or a stop does not wait
                    self._wake.clear()
                waited += step
            if self._backlog:
                return True
            connections.close_all()  # idle: give the connection back
            self._polling = False
        if not self._backlog:  # re-checked after `_polling` is off: no call is missed
            self._wake.wait()
        self._wake.clear()
        self._polling = True
        return bool(self._backlog)

    def _run(self) -> None:
        while True:
            if not self._next():
                continue
            run: list[_Call] = []
            markers: list[threading.Event] = []
            stop = False
            while self._backlog and len(run) < self._MAX_RUN:
                item = self._backlog.popleft()
                if item is None:
                    stop = True
                elif isinstance(item, threading.Event):
                    markers.append(item)
                else:
                    run.append(item)
            if run and (not self._log(run) or _broken_connection()):
                connections.close_all()
            if markers or stop:
                connections.close_all()
                for marker in markers:
                    marker.set()
            if stop:
                return

    def _log(self, run: list[_Call]) -> bool:
        self.runs += 1
        try:
            with batched(), spend_batched():
                for call in run:
                    call.log()
        except Exception:  # the calls logged their own failures; this is the batch's write
            logger.exception("could not store %s API routing decisions", len(run))
            return False
        return True


def _broken_connection() -> bool:
    """Whether a database error left this thread's connection unusable (checked only then)."""
    return any(
        conn.errors_occurred and not conn.is_usable()
        for conn in connections.all(initialized_only=True)
    )


_logger = _DecisionLogger()
atexit.register(_logger.stop)


def wait_for_logs(timeout: float = 10.0) -> bool:
    """Block until every queued decision is written (tests and orderly shutdown); False if
    that took longer than `timeout` seconds."""
    return _logger.flush(timeout)


class _LogsOnClose:
    """A response that logs its call's routing decision when it is closed.

    Django's ASGI handler calls `close()` after the last byte has been sent, and also when
    the client went away mid-stream: the decision is queued for the logging thread, so it is
    never skipped and never delays an answer.

    It closes as `HttpResponseBase.close` does, without sending `request_finished`: the gateway
    handler (routerweb/asgi.py) closes it on the event loop, whose thread holds no database
    connection or cache client for that signal's receivers to recycle — sending it cost more
    than the rest of closing.
    """

    call: _Call | None = None
    _resource_closers: list[Callable[[], Any]]
    closed: bool

    def close(self) -> None:
        try:
            if self.call is not None:
                self.call.log_later()
        finally:
            for closer in self._resource_closers:
                try:
                    closer()
                except Exception:
                    logger.warning("could not close a response's resource", exc_info=True)
            self._resource_closers.clear()
            self.closed = True


class _LoggedJson(_LogsOnClose, JsonResponse):
    pass


class _LoggedStream(_LogsOnClose, StreamingHttpResponse):
    pass


class _Call:
    """One answer in flight. `log` records the decision exactly once, however the call ends."""

    def __init__(
        self,
        plan: Plan,
        request: ChatRequest,
        user_id: int,
        *,
        started: float | None = None,
        span: Any = None,
    ) -> None:
        # The user id whose stream slot this call holds (governance.limits), if any.
        self.stream_slot: int | None = None
        # Timing and tracing, reported once the decision is logged (off the answer's path).
        self.started = time.perf_counter() if started is None else started
        self.first_text_at: float | None = None
        self.finished: float | None = None
        self.finished_ns = 0
        self.span = span
        self.plan = plan
        self.request = request
        self.user_id = user_id
        self.result = ChainResult()
        # A router's overrides of the failure policy apply to its models.
        self.policy = Policy.current(plan.router.failover_policy if plan.router else None)
        self.candidates = plan.candidates()
        self.stream: AsyncGenerator[str, None] = run_chain(
            self.candidates, request, self.result, policy=self.policy
        )
        self.created = int(time.time())
        self._logged = False
        self._lock = threading.Lock()
        self.final_outcome: Outcome | None = None
        self.streamed = False

    def outcome(self) -> Outcome:
        """Usage and costs. Once the chain has ended the result no longer changes: the answer,
        the log and the span share one computation."""
        if self.final_outcome is not None:
            return self.final_outcome
        return outcome_of(self.plan, self.result)

    def settled(self) -> Outcome:
        """The outcome of a chain that has ended (kept for everything after)."""
        self.final_outcome = outcome_of(self.plan, self.result)
        return self.final_outcome

    def log(self) -> None:
        with self._lock:
            if self._logged:
                return
            self._logged = True
        try:
            settle(self.plan, self.result, outcome=self.outcome())
        except Exception:  # the answer is out; a logging failure must not become a 500
            logger.exception("could not log API routing decision %s", self.plan.uid)
        self.observe()

    def observe(self) -> None:
        """The call's latency metrics and the end of its span (see routerweb.observability)."""
        finished = self.finished if self.finished is not None else time.perf_counter()
        routing = self.plan.facts
        result = self.result
        router = self.plan.router.slug if self.plan.router is not None else ""
        try:
            observability.record_api_timing(
                router=router,
                rule=self.plan.facts.rule_name,
                model=result.answered_by or "",
                stream=self.first_text_at is not None or self.streamed,
                total=finished - self.started,
                ttft=None if self.first_text_at is None else self.first_text_at - self.started,
            )
            if self.span is not None:
                usage = self.outcome().usage
                error = None
                if not result.complete:
                    error = result.error.kind if result.error is not None else "failed"
                observability.end_request_span(
                    self.span,
                    response_id=f"chatcmpl-{self.plan.uid}",
                    answered_by=result.answered_by,
                    routing=routing,
                    input_tokens=usage.input_tokens if usage else None,
                    output_tokens=usage.output_tokens if usage else None,
                    error=error,
                    end_ns=self.finished_ns or None,
                )
        except Exception:
            logger.warning("could not record metrics for %s", self.plan.uid, exc_info=True)

    def log_later(self) -> None:
        """Queue `log` on the logging thread."""
        if self.finished is None:
            self.finished = time.perf_counter()
            self.finished_ns = time.time_ns()
        _logger.submit(self)

    def respond(self, response: _LogsOnClose) -> HttpResponse:
        response.call = self
        return response  # type: ignore[return-value]

    def error(self, error: ApiError) -> HttpResponse:
        return self.respond(_LoggedJson(error.body, status=error.status))

    async def json_response(self) -> HttpResponse:
        # Nothing reaches the client before the end: every failure restarts cleanly.
        self.stream = run_chain(
            self.candidates,
            self.request,
            self.result,
            delivery="buffered",
            policy=self.policy,
        )
        try:
            async for _ in self.stream:
                pass
        except BaseException:
            # Cancelled (the client left) before any response existed to log on close.
            self.log_later()
            raise
        result = self.result
        if not result.complete or result.answered_by is None:
            return self.error(_failure(result))
        response = self.respond(
            _LoggedJson(_completion_json(self.plan, result, self.settled(), self.created))
        )
        for name, value in _headers(self.plan, _models(result)).items():
            response[name] = value
        return response

    async def _release_stream(self) -> None:
        """Give back the person's stream slot (governance.limits), once."""
        if self.stream_slot is not None:
            user_id, self.stream_slot = self.stream_slot, None
            await stream_end(user_id)

    async def stream_response(self, include_usage: bool) -> HttpResponse:
        self.streamed = True
        try:
            first = await anext(self.stream, None)
            if first:
                self.first_text_at = time.perf_counter()
        except BaseException:
            await self.stream.aclose()
            await self._release_stream()
            self.log_later()
            raise
        result = self.result
        if first is None and not (result.complete and result.answered_by):
            await self._release_stream()
            return self.error(_failure(result))
        models = _models(result)
        chunks = _Chunks(self.plan.uid, models, self.created)

        async def events() -> AsyncIterator[bytes]:
            nonlocal chunks
            try:
                # Events that are ready together go out in one write (the role with the
                # first text; the stop, usage and [DONE]): each write is a send on the socket.
                yield chunks.role() + (chunks.text(first) if first else b"")
                named = len(result.models)
                async for text in self.stream:
                    if len(result.models) != named:
                        # Another model continues the answer: its chunks name both.
                        named = len(result.models)
                        chunks = _Chunks(self.plan.uid, _models(result), self.created)
                    yield chunks.text(text)
                chunks = _Chunks(self.plan.uid, _models(result), self.created)
                outcome = self.settled()
                usage = chunks.usage(_usage_json(outcome)) if include_usage else b""
                if result.complete:
                    yield chunks.stop(result.finish_reason) + usage + _DONE
                    return
                # A damaged answer never ends like a whole one: no finish_reason "stop", no
                # [DONE]; the error event makes OpenAI SDKs raise instead of returning it.
                yield usage + _sse_error(_cut_off(result))
            finally:
                # The client may have gone: stop reading from the model at once.
                await self.stream.aclose()
                await self._release_stream()

        response = self.respond(_LoggedStream(events(), content_type="text/event-stream"))
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        for name, value in _headers(self.plan, models).items():
            response[name] = value
        return response


@csrf_exempt
@login_not_required
@require_GET
async def models(request: HttpRequest) -> HttpResponse:
    entry = await aapi_token_identify(bearer_token_from(request))
    if entry is None:
        return _unauthorized().response()
    data = await run_db(_model_list, entry.user)
    return JsonResponse({"object": "list", "data": data})


def _model_list(user: Any) -> list[dict[str, Any]]:
    # Each router, then `router:<slug>/<tier>` for each tier of its published version.
    routers = [
        {
            "id": f"{ROUTER_PREFIX}{r.slug}{name}",
            "object": "model",
            "created": int(r.created_at.timestamp()),
            "owned_by": "routerweb",
        }
        for r in router_list_usable_by(user=user).order_by("slug")
        for name in ["", *(f"/{t['name']}" for t in router_published(r).tiers or [])]
    ]
    models = [
        {
            "id": m.ref,
            "object": "model",
            "created": int(m.provider.created_at.timestamp()),
            "owned_by": m.provider.slug,
        }
        for m in catalog_list_enabled().order_by("provider__slug", "model_id")
    ]
    return routers + models
