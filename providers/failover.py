"""Streaming an answer along a chain of models, failing over when one fails.

One policy, in one module, used by chat and by every API that calls a model.

Per model, an error is either retried on the same model (bounded, with a wait) or the chain
moves on:

| error kind         | retry the same model?                        | then                        |
|--------------------|----------------------------------------------|-----------------------------|
| rate_limited       | yes, after Retry-After (up to the cap) or a  | next model                  |
|                    | jittered backoff; Retry-After above the cap: |                             |
|                    | no, fail over at once                        |                             |
| unavailable (5xx,  | yes, after a jittered backoff (Retry-After   | next model                  |
| connection reset)  | honoured the same way)                       |                             |
| dropped_stream     | yes if nothing was shown yet; else no        | next model, continuing the  |
| (incl. malformed)  |                                              | partial answer              |
| timeout (connect,  | no: a slow model stays slow                  | next model (continuing if   |
| first token, stall)|                                              | text was shown)             |
| auth, bad_request  | no                                           | next model                  |
| context_too_long   | no                                           | next model whose context    |
|                    |                                              | fits (smaller ones skipped) |
| content_filter     | no; the provider's reason is kept            | stop, unless the caller     |
|                    |                                              | passes continue_on_refusal  |

Tries per model are bounded (FAILOVER_MAX_ATTEMPTS_PER_MODEL, 2: one retry).

Once text has been shown, a model is never retried from scratch (the user would see the
answer twice): the next model is asked to *continue* the partial answer instead. If no model
can, the answer ends incomplete with the failure that cut it — never with the error of a
continuation attempt, which would hide what actually happened.

On top of the provider's own connect/read timeouts, each stream gets a time-to-first-token
limit and a stall limit between chunks, enforced around every `__anext__` of the adapter's
stream. A circuit breaker (`providers.breaker`) skips models that keep failing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from engine.tokens import estimate_message_tokens
from providers import adapter_pool, breaker
from providers.adapters.base import (
    ChatMessage,
    ChatRequest,
    ErrorKind,
    ProviderAdapter,
    ProviderConfig,
    ProviderError,
    TextDelta,
    Usage,
)
from providers.adapters.registry import supports_prefill

log = logging.getLogger(__name__)

# How a partial answer is handed to the next model. Kinds whose registry entry says
# `supports_prefill` (Anthropic, the demo) continue a conversation that ends with an assistant
# turn natively; OpenAI-style APIs and Gemini get the partial answer as an assistant turn
# followed by a short user instruction to carry on from there.
CONTINUE_INSTRUCTION = "Continue exactly where the previous answer stopped, without repeating it."

# Kinds worth a second try on the same model. A timeout is not: the model that was too slow a
# moment ago will most likely be too slow again, and the user has already waited.
_RETRY_SAME_MODEL: frozenset[str] = frozenset({"rate_limited", "unavailable", "dropped_stream"})


@dataclass(frozen=True)
class Candidate:
    ref: str
    model_id: str
    config: ProviderConfig
    # Known context window (tokens): a conversation estimated larger is not sent to it.
    context_window: int | None = None
    # False: never ask this model to continue someone else's partial answer.
    supports_continuation: bool | None = None


@dataclass
class ChainResult:
    """Filled in while `run_chain` streams; read it once the stream ends."""

    text: str = ""
    answered_by: str | None = None
    # Usage of the answering model only: failed attempts are recorded, never billed.
    usage: Usage | None = None
    complete: bool = False
    error: ProviderError | None = None
    attempts: list[dict] = field(default_factory=list)

    @property
    def fallback_used(self) -> bool:
        """Another model than the one that failed answered (a retry of the same one is not a
        fallback)."""
        return self.answered_by is not None and any(
            not a["ok"] and a["model"] != self.answered_by for a in self.attempts
        )


@dataclass(frozen=True, slots=True)
class Policy:
    max_attempts: int  # per model, the first try included
    backoff_base: float
    backoff_max: float
    max_retry_after: float
    connect_timeout: float
    first_token_timeout: float
    stall_timeout: float

    @classmethod
    def current(cls) -> Policy:
        # Read per chain so a settings override (tests, a reload) applies at once.
        return cls(
            max_attempts=max(1, getattr(settings, "FAILOVER_MAX_ATTEMPTS_PER_MODEL", 2)),
            backoff_base=getattr(settings, "FAILOVER_BACKOFF_BASE", 0.2),
            backoff_max=getattr(settings, "FAILOVER_BACKOFF_MAX", 2.0),
            max_retry_after=getattr(settings, "FAILOVER_MAX_RETRY_AFTER", 5.0),
            connect_timeout=getattr(settings, "FAILOVER_CONNECT_TIMEOUT", 10.0),
            first_token_timeout=getattr(settings, "FAILOVER_FIRST_TOKEN_TIMEOUT", 60.0),
            stall_timeout=getattr(settings, "FAILOVER_STALL_TIMEOUT", 30.0),
        )

    def backoff(self, tries: int) -> float:
        """Exponential, with "equal jitter": never below half the step, so never a tight loop,
        and spread out so that many workers hitting one provider do not retry in lockstep."""
        step = min(self.backoff_base * 2 ** (tries - 1), self.backoff_max)
        return step / 2 + random.uniform(0, step / 2)


@dataclass(frozen=True, slots=True)
class Step:
    retry: bool
    wait: float = 0.0
    why: str = ""


def next_step(error: ProviderError, *, tries: int, shown: bool, policy: Policy) -> Step:
    """After `tries` attempts on one model, the last ending in `error`: retry it, or move on."""
    if shown:
        return Step(False, why="text was already shown; another model continues it")
    if error.kind not in _RETRY_SAME_MODEL:
        return Step(False, why=f"{error.kind} is not retried on the same model")
    if tries >= policy.max_attempts:
        return Step(False, why=f"{tries} attempts on this model")
    asked = error.retry_after
    if asked is not None and asked > policy.max_retry_after:
        return Step(
            False,
            why=f"the provider asked to wait {asked:g} s, more than {policy.max_retry_after:g} s",
        )
    wait = policy.backoff(tries)
    if asked is not None:
        wait = max(asked, wait)
    return Step(True, wait, why=f"retrying in {wait:.2f} s")


def estimate_request_tokens(messages: tuple[ChatMessage, ...], system: str) -> int:
    total = sum(estimate_message_tokens(m.text, len(m.images)) for m in messages)
    return total + (estimate_message_tokens(system) if system else 0)


def continuation_messages(
    messages: tuple[ChatMessage, ...], partial: str, kind: str
) -> tuple[ChatMessage, ...]:
    """The conversation a model needs to continue `partial` (prefill where the kind has it)."""
    if supports_prefill(kind):
        # Anthropic rejects a final assistant turn that ends in whitespace.
        return (*messages, ChatMessage("assistant", partial.rstrip()))
    return (
        *messages,
        ChatMessage("assistant", partial),
        ChatMessage("user", CONTINUE_INSTRUCTION),
    )


async def run_chain(
    candidates: list[Candidate],
    request: ChatRequest,
    result: ChainResult,
    *,
    continue_on_refusal: bool = False,
) -> AsyncGenerator[str, None]:
    """Stream the answer's text from the first model that can give it, filling `result`.

    `continue_on_refusal`: after a content-policy refusal, try the next model (by default the
    refusal is the answer: the chain stops and its reason is the error).
    """
    chain = _Chain(request, result, Policy.current(), continue_on_refusal)
    # aclosing everywhere below: a listener that goes away closes this generator, and only an
    # explicit close reaches the nested ones (and the HTTP stream) now rather than at GC time.
    async with aclosing(chain.run(candidates)) as texts:
        async for text in texts:
            yield text


@dataclass
class _Outcome:
    """One attempt on one model."""

    started: float = field(default_factory=time.monotonic)
    shown: str = ""  # text this attempt added to the answer
    usage: Usage | None = None
    error: ProviderError | None = None


@dataclass
class _Chain:
    request: ChatRequest
    result: ChainResult
    policy: Policy
    continue_on_refusal: bool
    # The failure that cut an answer already on screen: what the user is told if no model
    # manages to continue it.
    cut: ProviderError | None = None
    last_error: ProviderError | None = None
    # Largest context window already found too small for this conversation.
    too_small: int | None = None
    finished: bool = False

    async def run(self, candidates: list[Candidate]) -> AsyncGenerator[str, None]:
        blocked: list[Candidate] = []
        sent = False
        for candidate in candidates:
            if self.finished:
                break
            unsuitable = self._unsuitable(candidate)
            if unsuitable is not None:
                self._skip(candidate, *unsuitable)
                continue
            verdict = await breaker.check(candidate.ref)
            if verdict.gate == "open":
                wait = f"{verdict.retry_in:.0f} s" if verdict.retry_in >= 1 else "a moment"
                self._skip(
                    candidate, "circuit_open", f"skipped: failing recently, retry after {wait}"
                )
                blocked.append(candidate)
                continue
            sent = True
            async with aclosing(self._candidate(candidate, verdict.gate)) as texts:
                async for text in texts:
                    yield text
        if not sent and blocked:
            # Failing without trying anything would be worse than trying a model that failed
            # recently: it may have recovered before its cool-off ended.
            last = blocked[-1]
            log.warning("every model's circuit is open; trying %s anyway", last.ref)
            note = "every model's circuit is open; tried anyway"
            async with aclosing(self._candidate(last, "probe", note=note)) as texts:
                async for text in texts:
                    yield text
        self._finalise(candidates)

    # -- one model --

    async def _candidate(
        self, candidate: Candidate, gate: breaker.Gate, note: str = ""
    ) -> AsyncGenerator[str, None]:
        error: ProviderError | None
        try:
            adapter = await adapter_pool.adapter_for(self._config(candidate))
        except ValueError as exc:  # misconfigured provider: nothing was sent
            error = ProviderError("bad_request", f"Misconfigured provider: {exc}")
            self._record(candidate, _Outcome(error=error), tries=1, retried=False, note=note)
            self._failed(candidate, error, shown=False)
            return
        tries = 0
        while True:
            tries += 1
            outcome = _Outcome()
            async with aclosing(self._attempt(adapter, candidate, outcome)) as texts:
                try:
                    async for text in texts:
                        yield text
                except (GeneratorExit, asyncio.CancelledError):
                    # Our caller stopped listening (the client went away): say so in the log.
                    self._record(candidate, outcome, tries=tries, retried=False, note=note)
                    self.result.attempts[-1].update(
                        ok=False,
                        error="stopped",
                        message="The client stopped reading; the call was cut off.",
                    )
                    raise
            error = outcome.error
            if error is None:
                self._record(candidate, outcome, tries=tries, retried=False, note=note)
                self._answered(candidate, outcome)
                await breaker.record_success(candidate.ref, gate)
                return
            step = next_step(error, tries=tries, shown=bool(outcome.shown), policy=self.policy)
            self._record(candidate, outcome, tries=tries, retried=step.retry, note=note)
            log.warning("model %s failed (try %d): %r; %s", candidate.ref, tries, error, step.why)
            if step.retry:
                await asyncio.sleep(step.wait)
                continue
            await self._breaker_failure(candidate, error, gate)
            self._failed(candidate, error, shown=bool(outcome.shown))
            return

    async def _attempt(
        self, adapter: ProviderAdapter, candidate: Candidate, outcome: _Outcome
    ) -> AsyncGenerator[str, None]:
        """Stream one request, under the first-token and stall limits; errors go to `outcome`."""
        messages = self._messages_for(candidate)
        request = dataclasses.replace(self.request, model=candidate.model_id, messages=messages)
        # The shown text may end in whitespace that a prefill had to leave out; the model then
        # starts its continuation with a space of its own, which the user must not see twice.
        trim_lead = self._trims_prefill(candidate)
        stream = adapter.stream(request)
        try:
            while True:
                if outcome.shown:
                    limit, what = self.policy.stall_timeout, "The stream stalled for"
                else:
                    limit, what = self.policy.first_token_timeout, "No first token within"
                try:
                    event = await _next_event(stream, limit, f"{what} {limit:g} s.")
                except StopAsyncIteration:
                    return
                if isinstance(event, TextDelta) and event.text:
                    text = event.text.lstrip() if trim_lead else event.text
                    trim_lead = trim_lead and not text
                    if not text:
                        continue
                    outcome.shown += text
                    self.result.text += text
                    self.result.answered_by = candidate.ref
                    yield text
                elif isinstance(event, Usage):
                    outcome.usage = event
        except ProviderError as exc:
            outcome.error = exc
        finally:
            # Also runs when our caller stops listening: the connection must not linger.
            await stream.aclose()  # type: ignore[attr-defined]

    # -- decisions --

    def _unsuitable(self, candidate: Candidate) -> tuple[str, str] | None:
        """(error kind, message) when `candidate` must not be sent this request at all."""
        if self.cut is not None and candidate.supports_continuation is False:
            return "no_continuation", "skipped: cannot continue a partial answer"
        window = candidate.context_window
        if window is None:
            return None
        tokens = estimate_request_tokens(self._messages_for(candidate), self.request.system)
        if tokens > window:
            return (
                "context_too_long",
                f"skipped: the conversation (~{tokens:,} tokens) exceeds its "
                f"{window:,}-token context window",
            )
        if self.too_small is not None and window <= self.too_small:
            return (
                "context_too_long",
                f"skipped: a model with a {self.too_small:,}-token context window already "
                "found the conversation too long",
            )
        return None

    def _answered(self, candidate: Candidate, outcome: _Outcome) -> None:
        self.result.answered_by = candidate.ref
        self.result.usage = outcome.usage
        self.result.complete = True
        self.result.error = None
        self.finished = True

    def _failed(self, candidate: Candidate, error: ProviderError, *, shown: bool) -> None:
        if error.kind == "context_too_long" and candidate.context_window is not None:
            self.too_small = max(self.too_small or 0, candidate.context_window)
        if shown:
            self.cut = error
        elif self.cut is None:
            self.last_error = error
        # A continuation that failed before showing anything leaves `cut` as the user's error.
        if error.kind == "content_filter" and not self.continue_on_refusal:
            self.finished = True

    async def _breaker_failure(
        self, candidate: Candidate, error: ProviderError, gate: breaker.Gate
    ) -> None:
        if error.retryable:
            await breaker.record_failure(candidate.ref, gate)
        elif gate != "closed":
            # A refusal or a bad request still proves the model is up again.
            await breaker.record_success(candidate.ref, gate)

    def _finalise(self, candidates: list[Candidate]) -> None:
        if self.result.complete:
            return
        error = self.cut or self.last_error
        if error is None:
            error = self._nothing_tried_error(candidates)
        self.result.error = error

    def _nothing_tried_error(self, candidates: list[Candidate]) -> ProviderError:
        if not candidates:
            return ProviderError("bad_request", "No model to answer.")
        kinds = {a["error"] for a in self.result.attempts}
        skipped = "; ".join(f"{a['model']}: {a['message']}" for a in self.result.attempts)
        kind: ErrorKind = "context_too_long" if kinds == {"context_too_long"} else "bad_request"
        return ProviderError(kind, f"Every model was skipped ({skipped}).")

    # -- requests --

    def _config(self, candidate: Candidate) -> ProviderConfig:
        # The provider's connect timeout applies, but never longer than the policy allows.
        connect = min(candidate.config.connect_timeout, self.policy.connect_timeout)
        if connect == candidate.config.connect_timeout:
            return candidate.config
        return dataclasses.replace(candidate.config, connect_timeout=connect)

    def _messages_for(self, candidate: Candidate) -> tuple[ChatMessage, ...]:
        if self.cut is None or not self.result.text:
            return self.request.messages
        return continuation_messages(self.request.messages, self.result.text, candidate.config.kind)

    def _trims_prefill(self, candidate: Candidate) -> bool:
        text = self.result.text
        return (
            self.cut is not None
            and supports_prefill(candidate.config.kind)
            and text != text.rstrip()
        )

    # -- the record --

    def _record(
        self, candidate: Candidate, outcome: _Outcome, *, tries: int, retried: bool, note: str
    ) -> None:
        error = outcome.error
        attempt: dict[str, Any] = {
            "model": candidate.ref,
            "ok": error is None,
            "error": error.kind if error else None,
            "message": error.message if error else "",
            "status_code": error.status_code if error else None,
            "retry_after": error.retry_after if error else None,
            "duration_ms": round((time.monotonic() - outcome.started) * 1000),
            "streamed_chars": len(outcome.shown),
            "try": tries,
            "retried": retried,
            "continuation": self.cut is not None,
        }
        if note:
            attempt["note"] = note
        self.result.attempts.append(attempt)

    def _skip(self, candidate: Candidate, kind: str, message: str) -> None:
        log.info("model %s skipped: %s", candidate.ref, message)
        self.result.attempts.append(
            {
                "model": candidate.ref,
                "ok": False,
                "error": kind,
                "message": message,
                "status_code": None,
                "retry_after": None,
                "duration_ms": 0,
                "streamed_chars": 0,
                "try": 0,
                "retried": False,
                "continuation": self.cut is not None,
                "skipped": True,
            }
        )


async def _next_event(stream: AsyncIterator[Any], limit: float, message: str) -> Any:
    """The stream's next event, or a `timeout` ProviderError after `limit` seconds.

    `asyncio.timeout` cancels the pending `__anext__` inside this task, so the adapter's
    generator unwinds (closing its HTTP response) before the error is raised.
    """
    deadline = asyncio.timeout(limit)
    try:
        async with deadline:
            return await anext(stream)
    except TimeoutError:
        if deadline.expired():
            raise ProviderError("timeout", message) from None
        raise
