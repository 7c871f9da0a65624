"""Streaming an answer along a chain of models, failing over when one fails — honestly.

One policy, in one module, used by chat and by every API that calls a model. The rule it never
breaks: a damaged answer is never passed off as a whole one.

What happens after a failure depends on whether any of the answer has *reached the client*:

- **Nothing reached the client** (a non-streaming request, or a stream that failed before its
  first text): the failed attempt's text is thrown away and the same model is retried or the
  next one *restarts* the answer from scratch. Never a splice.
- **Text reached the client**: the next model is asked to *continue* it (an assistant prefill
  of all but its last words where the provider kind supports one, else the partial answer plus
  an instruction to go on from its last words). Its output is held back until it is
  *verified* to be a continuation: one that starts over, repeats the shown text or ignores the
  prefill or the request (it does not write the left-out or quoted words first) is rejected, and a
  verified overlap with the shown text is stripped. If no model continues it, the answer ends
  *cut off*: the caller keeps what was received and reports the failure (an error event on
  `/v1`, a "cut off" message in chat) — never a successful finish.

The policy per failure class (`FAILURE_POLICY`, also in the README):

| failure class                     | before any text reached the client          | after text reached it   |
|-----------------------------------|---------------------------------------------|-------------------------|
| rate_limited (429)                | retry same model after Retry-After (up to   | continue on next model, |
|                                   | the cap) or backoff, then restart on next   | else end cut off        |
| unavailable (5xx, reset, refused) | retry same model after backoff, then        | continue on next model, |
|                                   | restart on next                             | else end cut off        |
| dropped_stream (cut, ended with-  | retry same model, then restart on next      | continue on next model, |
| out a finish reason, malformed    |                                             | else end cut off        |
| chunk, error event mid-stream)    |                                             |                         |
| timeout (connect, first token,    | no retry (a slow model stays slow): restart | continue on next model, |
| stall)                            | on next                                     | else end cut off        |
| auth, bad_request                 | no retry: restart on next                   | continue on next model  |
| context_too_long                  | no retry: next model whose window fits      | continue on next model  |
| content_filter (refusal)          | end with the refusal (no rerouting around   | end cut off with the    |
|                                   | it unless the router allows it)             | refusal                 |
| continuation not verified         | —                                           | try the next model,     |
|                                   |                                             | else end cut off        |

Retries per model are bounded (`max_attempts`), waits are capped (`backoff_max`,
`max_retry_after`); a circuit breaker's half-open probe is a single request, never retried.
Every attempt is recorded with its `outcome`: answered, restarted, continued, retried,
failed_over, cut_off, not_continued, prefill_rejected, skipped, stopped.

All waiting goes through an injected `Clock` (`routerweb.clock`), so tests never sleep.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import re
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal

from django.conf import settings

from engine.tokens import estimate_message_tokens, estimate_tokens
from providers import adapter_pool, breaker
from providers.adapters._common import stream_by_completing
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
from routerweb import clock as clocks
from routerweb import observability
from routerweb.clock import Clock

log = logging.getLogger(__name__)

# --- the stated policy --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClassRule:
    """What one failure class does. `retry`: try the same model again (bounded, only while
    nothing reached the client); `fall_back`: then move on to the next model (a restart when
    nothing was shown, a verified continuation when text was)."""

    retry: bool
    fall_back: bool
    label: str


FAILURE_POLICY: dict[str, ClassRule] = {
    "rate_limited": ClassRule(True, True, "rate limit (429)"),
    "unavailable": ClassRule(True, True, "5xx, connection reset or refused"),
    "dropped_stream": ClassRule(
        True, True, "stream cut or ended unfinished, malformed chunk, error mid-stream"
    ),
    "timeout": ClassRule(False, True, "connect, first-token or stall timeout"),
    "auth": ClassRule(False, True, "authentication or permission error"),
    "bad_request": ClassRule(False, True, "request rejected (400)"),
    "context_too_long": ClassRule(False, True, "conversation longer than the context window"),
    "content_filter": ClassRule(False, False, "content-policy refusal"),
}

Delivery = Literal["stream", "buffered"]


@dataclass(frozen=True, slots=True)
class Policy:
    max_attempts: int  # per model, the first try included (retries + 1)
    backoff_base: float
    backoff_max: float  # the cap on one backoff wait
    max_retry_after: float  # a longer Retry-After fails over at once
    connect_timeout: float
    first_token_timeout: float
    stall_timeout: float
    continue_cut_answers: bool = True  # False: a cut answer always ends cut off
    fall_back_on_refusal: bool = False  # True: a refusal moves on to the next model

    @classmethod
    def current(cls, overrides: Mapping[str, Any] | None = None) -> Policy:
        # Read per chain so a settings override (tests, a reload) applies at once.
        policy = cls(
            max_attempts=max(1, getattr(settings, "FAILOVER_MAX_ATTEMPTS_PER_MODEL", 2)),
            backoff_base=getattr(settings, "FAILOVER_BACKOFF_BASE", 0.2),
            backoff_max=getattr(settings, "FAILOVER_BACKOFF_MAX", 2.0),
            max_retry_after=getattr(settings, "FAILOVER_MAX_RETRY_AFTER", 5.0),
            connect_timeout=getattr(settings, "FAILOVER_CONNECT_TIMEOUT", 10.0),
            first_token_timeout=getattr(settings, "FAILOVER_FIRST_TOKEN_TIMEOUT", 15.0),
            stall_timeout=getattr(settings, "FAILOVER_STALL_TIMEOUT", 20.0),
        )
        if overrides:
            # Stored overrides were checked when saved; one that is not valid now (edited in
            # the database or Django admin) is ignored rather than breaking every answer.
            clean, problems = clean_overrides(overrides)
            if problems:
                log.warning("ignoring invalid failure-policy overrides: %s", problems)
            policy = dataclasses.replace(policy, **clean)
        return policy

    def rule(self, kind: str) -> ClassRule:
        rule = FAILURE_POLICY.get(kind, ClassRule(False, True, kind))
        if kind == "content_filter" and self.fall_back_on_refusal:
            return dataclasses.replace(rule, fall_back=True)
        return rule

    def backoff(self, tries: int) -> float:
        """Exponential, with "equal jitter": never below half the step, so never a tight loop,
        and spread out so that many workers hitting one provider do not retry in lockstep."""
        step = min(self.backoff_base * 2 ** (tries - 1), self.backoff_max)
        return step / 2 + random.uniform(0, step / 2)


# What a router may set for its models (`Router.failover_policy`): field → (label, kind, low,
# high). Anything else, or out of range, is refused with a message naming the field.
OVERRIDE_FIELDS: dict[str, tuple[str, type, float, float]] = {
    "max_attempts": ("Tries per model (1 = no retry)", int, 1, 5),
    "backoff_max": ("Longest backoff wait (s)", float, 0, 60),
    "first_token_timeout": ("First-token timeout (s)", float, 1, 300),
    "stall_timeout": ("Stall timeout (s)", float, 1, 300),
    "continue_cut_answers": ("Continue a cut answer on the next model", bool, 0, 1),
    "fall_back_on_refusal": ("After a content refusal, try the next model", bool, 0, 1),
}


def clean_overrides(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(the overrides to store, errors by field) for a router's failure-policy overrides.

    A value of None or "" means "the default" and is dropped."""
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, value in data.items():
        if key not in OVERRIDE_FIELDS:
            errors[key] = (
                f"Unknown setting {key!r}; a router may set: {', '.join(OVERRIDE_FIELDS)}."
            )
            continue
        if value is None or value == "":
            continue
        label, kind, low, high = OVERRIDE_FIELDS[key]
        if kind is bool:
            if not isinstance(value, bool):
                errors[key] = f"{label}: true or false."
            else:
                clean[key] = value
            continue
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        if number is None or (kind is int and number != int(number)):
            errors[key] = f"{label}: enter {'a whole number' if kind is int else 'a number'}."
        elif not low <= number <= high:
            errors[key] = f"{label}: between {low:g} and {high:g}."
        else:
            clean[key] = int(number) if kind is int else float(number)
    return clean, errors


def describe_policy(policy: Policy) -> list[dict[str, str]]:
    """The policy table as it applies with `policy` (what the router page shows)."""
    rows = []
    for kind, rule in FAILURE_POLICY.items():
        rule = policy.rule(kind)
        if rule.retry and policy.max_attempts > 1:
            before = f"retry the same model (up to {policy.max_attempts} tries), then "
        else:
            before = "no retry; "
        if kind == "context_too_long":
            before += "the next model whose context window fits"
            after = "—"
        elif rule.fall_back:
            before += "restart on the next model"
            after = (
                "continue on the next model if verified, else end cut off"
                if policy.continue_cut_answers
                else "end cut off"
            )
        else:
            before = "end with the provider's reason"
            after = "end cut off"
        rows.append({"kind": kind, "label": rule.label, "before": before, "after": after})
    return rows


@dataclass(frozen=True, slots=True)
class Step:
    retry: bool
    wait: float = 0.0
    why: str = ""


def next_step(
    error: ProviderError, *, tries: int, shown: bool, policy: Policy, probe: bool = False
) -> Step:
    """After `tries` attempts on one model, the last ending in `error`: retry it, or move on."""
    if shown:
        return Step(False, why="text already reached the client; another model may continue it")
    if probe:
        return Step(False, why="a circuit breaker's probe is a single request")
    if not policy.rule(error.kind).retry:
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


# --- continuing a cut answer ----------------------------------------------------------------

# How many of the shown answer's last words a model without prefill must repeat first: the
# anchor that proves it picked up where the answer stopped (and that we then strip).
ANCHOR_WORDS = 6
# How many of the shown answer's first words identify "starting over".
OPENING_WORDS = 5
# An overlap shorter than this many words is not stripped: a real continuation may well
# begin with the word the shown text ended on.
MIN_OVERLAP_WORDS = 2
# How many of the shown answer's last words a prefill leaves out, for the model to write
# again: a model that continues the prefill writes them first (and they are stripped); one
# that ignores the prefill and answers afresh does not, and is told apart by that.
PREFILL_HELD_WORDS = 2
ANCHOR_OPEN, ANCHOR_CLOSE = "⟦", "⟧"

CONTINUE_INSTRUCTION = (
    "Your previous answer was cut off. Continue it exactly where it stopped: begin your reply "
    "with its last words, exactly as they are written between the markers "
    f"{ANCHOR_OPEN}{{anchor}}{ANCHOR_CLOSE} (without the markers), then carry on. Do not "
    "start over and do not repeat anything that came before those words."
)


def anchor_of(shown: str) -> str:
    return " ".join(shown.split()[-ANCHOR_WORDS:])


def held_words(shown: str) -> int:
    """How many of `shown`'s last words a prefill leaves for the model to write again (at
    least one word is always prefilled)."""
    return max(0, min(PREFILL_HELD_WORDS, len(shown.split()) - 1))


def prefill_of(shown: str) -> str:
    """The assistant prefill that continues `shown`: all of it but its last `held_words`
    (without trailing whitespace: Anthropic rejects a final assistant turn that ends in it)."""
    held = held_words(shown)
    if not held:
        return shown.rstrip()
    starts = [m.start() for m in re.finditer(r"\S+", shown)]
    return shown[: starts[-held]].rstrip()


def continuation_messages(
    messages: tuple[ChatMessage, ...], partial: str, *, prefill: bool
) -> tuple[ChatMessage, ...]:
    """The conversation a model needs to continue `partial`."""
    if prefill:
        return (*messages, ChatMessage("assistant", prefill_of(partial)))
    return (
        *messages,
        ChatMessage("assistant", partial),
        ChatMessage("user", CONTINUE_INSTRUCTION.format(anchor=anchor_of(partial))),
    )


@dataclass(frozen=True, slots=True)
class Check:
    """The verdict on the first part of a continuation. `keep_from`: where, in the text
    received so far, the new text starts (a verified overlap before it is dropped)."""

    ok: bool
    keep_from: int = 0
    why: str = ""


def _words(text: str) -> list[str]:
    return text.split()


def _match_words(text: str, words: list[str]) -> int | None:
    """If `text` (after leading whitespace) begins with `words` (any whitespace between them),
    the index in `text` just after the last one; -1 when `text` ends before they could be told
    apart (a prefix of them so far); None when it does not begin with them."""
    pos = 0
    for i, word in enumerate(words):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return -1
        chunk = text[pos : pos + len(word)]
        if chunk != word:
            return -1 if word.startswith(chunk) and pos + len(chunk) == len(text) else None
        pos += len(word)
        if i < len(words) - 1 and pos < len(text) and not text[pos].isspace():
            return None
    return pos


def check_continuation(shown: str, head: str, *, anchored: bool, final: bool) -> Check | None:
    """Is `head`, the first text of a model asked to continue `shown`, a continuation?

    None: not enough text yet to tell (call again with more, or with `final` at the end).
    `anchored`: the model was asked to begin with the shown answer's last words (no prefill).
    """
    shown_words = _words(shown)
    opening = shown_words[:OPENING_WORDS]
    if anchored:
        end = _match_words(head, _words(anchor_of(shown)))
        if end == -1 and not final:
            return None
        if end is None or end == -1:
            return Check(False, why="it did not pick up from the last words shown")
        rest = head[end:]
    else:
        end = 0
        rest = head
        restarted = _match_words(head, opening) if len(shown_words) > 1 else None
        if restarted == -1 and not final:
            return None
        if restarted is not None and (restarted != -1 or head.strip()):
            return Check(False, why="it started the answer over")
        held = held_words(shown)
        if held:
            # The prefill left out the shown answer's last words: a model that continued it
            # writes them first; one that ignored it and answered afresh does not.
            found = _match_words(head, shown_words[-held:])
            if found == -1 and not final:
                return None
            if found is not None and found != -1:
                end = found
            elif _overlap(shown_words, head) == 0:
                if not final and _overlap(shown_words, head, pending=True):
                    return None  # it may yet prove to repeat more of the last words
                return Check(False, why="it did not continue the prefill (answered afresh)")
    # Repeating the shown text later on (after a preamble) is no continuation either.
    window = len(" ".join(opening)) + 80
    if len(opening) > 1 and len(rest) < window and not final:
        return None
    if len(opening) > 1 and " ".join(opening) in " ".join(_words(rest[:window])):
        return Check(False, why="it repeated the text already shown")
    if not anchored:
        # A longer verified overlap than the held words is stripped too.
        end = _overlap(shown_words, head) or end
    return Check(True, keep_from=end)


def _overlap(shown_words: list[str], head: str, *, pending: bool = False) -> int:
    """Where new text starts when `head` begins by repeating the shown answer's last words
    (0: it does not). `pending`: 1 if `head` may still turn out to (a prefix of them so far)."""
    for count in range(min(len(shown_words) - 1, 12), MIN_OVERLAP_WORDS - 1, -1):
        end = _match_words(head, shown_words[-count:])
        if pending:
            if end == -1:
                return 1
        elif end is not None and end != -1:
            return end
    return 0


def _joined(shown: str, new: str) -> str:
    """`new` as it follows `shown`: one space between them, never two."""
    if shown and shown[-1].isspace():
        return new.lstrip()
    return new


# --- the chain ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    ref: str
    model_id: str
    config: ProviderConfig
    # Known context window (tokens): a conversation estimated larger is not sent to it.
    context_window: int | None = None


@dataclass
class ChainResult:
    """Filled in while `run_chain` streams; read it once the stream ends."""

    text: str = ""
    # The model that finished the answer (or whose text ends a cut one).
    answered_by: str | None = None
    # Every model whose text is in `text`, in order.
    models: list[str] = field(default_factory=list)
    # Every attempt's usage added up (estimated for attempts that broke off).
    usage: Usage | None = None
    complete: bool = False
    # The answering model stopped at the request's max_tokens: whole as asked, not finished.
    max_tokens_reached: bool = False
    # Text reached the client and the answer could not be finished.
    cut_off: bool = False
    error: ProviderError | None = None
    attempts: list[dict] = field(default_factory=list)

    @property
    def finish_reason(self) -> str:
        """OpenAI's words for how a complete answer ended: "length" at max_tokens, else "stop"."""
        return "length" if self.max_tokens_reached else "stop"

    @property
    def fallback_used(self) -> bool:
        """Another model than the one that failed answered (a retry of the same one is not a
        fallback)."""
        return self.answered_by is not None and any(
            not a["ok"] and a["model"] != self.answered_by for a in self.attempts
        )

    def usage_by_model(self) -> list[tuple[str, Usage]]:
        """(model, usage) per attempt that consumed tokens, for cost accounting."""
        billed = []
        for a in self.attempts:
            u = a.get("usage")
            if u:
                billed.append((a["model"], Usage(u["input"], u["output"], u["estimated"])))
        return billed


def estimate_request_tokens(messages: tuple[ChatMessage, ...], system: str) -> int:
    total = sum(estimate_message_tokens(m.text, len(m.images)) for m in messages)
    return total + (estimate_message_tokens(system) if system else 0)


async def run_chain(
    candidates: list[Candidate],
    request: ChatRequest,
    result: ChainResult,
    *,
    delivery: Delivery = "stream",
    policy: Policy | None = None,
    clock: Clock | None = None,
    resume: str = "",
) -> AsyncGenerator[str, None]:
    """Stream the answer's text from the first model that can give it, filling `result`.

    `delivery="stream"`: every text yielded reaches the client at once, so a failure after it
    can only be continued (verified) or end cut off. `"buffered"`: nothing reaches the client
    before the chain ends (non-streaming APIs), so every failure restarts cleanly; nothing is
    yielded and `result.text` holds the answer.

    `resume`: the text of an answer cut off earlier, already shown; the chain's models are asked
    to continue it (verified, exactly as after a cut in this call) and `result.text` starts
    with it. Nothing of it is yielded again.
    """
    chain = _Chain(request, result, policy or Policy.current(), delivery, clock or clocks.current())
    if resume:
        result.text = resume
        chain.cut = ProviderError(
            "dropped_stream", "The answer had been cut off, and no model continued it."
        )
    # aclosing everywhere below: a listener that goes away closes this generator, and only an
    # explicit close reaches the nested ones (and the HTTP stream) now rather than at GC time.
    async with aclosing(chain.run(candidates)) as texts:
        async for text in texts:
            yield text


@dataclass
class _Outcome:
    """One attempt on one model."""

    started: float
    received: str = ""  # text the model sent in this attempt
    added: str = ""  # text this attempt added to the answer
    usage: Usage | None = None
    error: ProviderError | None = None
    rejected: str = ""  # why its continuation was not accepted
    outcome: str = ""
    prefill: bool = False


@dataclass
class _Chain:
    request: ChatRequest
    result: ChainResult
    policy: Policy
    delivery: Delivery
    clock: Clock
    # The failure that cut an answer already on screen: what the user is told if no model
    # manages to continue it.
    cut: ProviderError | None = None
    last_error: ProviderError | None = None
    failed_before: bool = False
    # Largest context window already found too small for this conversation.
    too_small: int | None = None
    finished: bool = False

    @property
    def streaming(self) -> bool:
        return self.delivery == "stream"

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
            verdict = await breaker.check(candidate.ref, clock=self.clock)
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
        if not sent and blocked and not self.finished:
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
            outcome = _Outcome(self.clock.monotonic(), error=error, outcome="failed_over")
            self._record(candidate, outcome, tries=1, retried=False, note=note)
            self._failed(candidate, error, shown=False)
            return
        prefill = self.cut is not None and supports_prefill(candidate.config.kind)
        tries = 0
        while True:
            tries += 1
            outcome = _Outcome(self.clock.monotonic())
            continuing = self.cut is not None
            async with aclosing(self._attempt(adapter, candidate, outcome, prefill)) as texts:
                try:
                    async for text in texts:
                        yield text
                except (GeneratorExit, asyncio.CancelledError):
                    # Our caller stopped listening (the client went away): say so in the log.
                    outcome.error = ProviderError(
                        "dropped_stream", "The client stopped reading; the call was cut off."
                    )
                    outcome.outcome = "stopped"
                    self._record(
                        candidate, outcome, tries=tries, retried=False, note=note, traced=False
                    )
                    self.result.attempts[-1]["error"] = "stopped"
                    self._trace(candidate, outcome, self.result.attempts[-1])
                    raise
            if outcome.rejected:
                outcome.outcome = "not_continued"
                self._record(candidate, outcome, tries=tries, retried=False, note=note)
                log.warning(
                    "model %s did not continue the answer: %s", candidate.ref, outcome.rejected
                )
                # It answered, so it is up: the breaker counts no failure.
                await breaker.record_success(candidate.ref, gate)
                return
            error = outcome.error
            if error is None:
                outcome.outcome = (
                    "continued" if continuing else "restarted" if self.failed_before else "answered"
                )
                self._record(candidate, outcome, tries=tries, retried=False, note=note)
                self._answered(candidate, outcome)
                await breaker.record_success(candidate.ref, gate)
                return
            shown = self.streaming and bool(outcome.added)
            if continuing and prefill and error.kind == "bad_request" and not outcome.received:
                # The model (or the server in front of it) refuses an assistant prefill: ask
                # it again the other way, with the partial answer and an instruction.
                outcome.outcome = "prefill_rejected"
                self._record(candidate, outcome, tries=tries, retried=True, note=note)
                prefill = False
                continue
            step = next_step(
                error, tries=tries, shown=shown, policy=self.policy, probe=gate == "probe"
            )
            if step.retry:
                outcome.outcome = "retried"
            elif shown:
                outcome.outcome = "cut_off"
            else:
                outcome.outcome = "failed_over"
            self._record(candidate, outcome, tries=tries, retried=step.retry, note=note)
            log.warning("model %s failed (try %d): %r; %s", candidate.ref, tries, error, step.why)
            if step.retry:
                await self.clock.sleep(step.wait)
                continue
            await self._breaker_failure(candidate, error, gate)
            self._failed(candidate, error, shown=shown)
            return

    async def _attempt(
        self, adapter: ProviderAdapter, candidate: Candidate, outcome: _Outcome, prefill: bool
    ) -> AsyncGenerator[str, None]:
        """Stream one request, under the first-token and stall limits; errors go to `outcome`.

        A continuation's text is held back until `check_continuation` accepts it."""
        shown = self.result.text if self.cut is not None else ""
        outcome.prefill = prefill
        messages = self._messages_for(candidate, prefill=prefill)
        request = dataclasses.replace(self.request, model=candidate.model_id, messages=messages)
        verified = not shown
        if self.streaming:
            stream = adapter.stream(request)
        else:
            # Nothing reaches the client before the end, so the model is asked without
            # streaming: one response to parse instead of a chunk per token. The provider's
            # read timeout bounds the wait (a whole answer takes longer than its first token).
            stream = stream_by_completing(adapter, request)
        try:
            while True:
                if outcome.received:
                    limit, what = self.policy.stall_timeout, "The stream stalled for"
                elif self.streaming:
                    limit, what = self.policy.first_token_timeout, "No first token within"
                else:
                    limit = max(self.policy.first_token_timeout, candidate.config.read_timeout)
                    what = "No answer within"
                try:
                    event = await _next_event(stream, limit, f"{what} {limit:g} s.", self.clock)
                except StopAsyncIteration:
                    break
                if isinstance(event, Usage):
                    outcome.usage = event
                    continue
                if not (isinstance(event, TextDelta) and event.text):
                    continue
                outcome.received += event.text
                if verified:
                    text = event.text
                else:
                    check = check_continuation(
                        shown, outcome.received, anchored=not prefill, final=False
                    )
                    if check is None:
                        continue
                    if not check.ok:
                        outcome.rejected = check.why
                        return
                    verified = True
                    text = _joined(shown, outcome.received[check.keep_from :])
                if text:
                    self._add(candidate, outcome, text)
                    if self.streaming:
                        yield text
            if not verified:
                check = check_continuation(
                    shown, outcome.received, anchored=not prefill, final=True
                )
                assert check is not None  # final checks always decide
                if not check.ok:
                    outcome.rejected = check.why
                    return
                text = _joined(shown, outcome.received[check.keep_from :])
                if text:
                    self._add(candidate, outcome, text)
                    if self.streaming:
                        yield text
        except ProviderError as exc:
            outcome.error = exc
            if not self.streaming:
                self._discard(outcome)
        finally:
            # Also runs when our caller stops listening: the connection must not linger.
            await stream.aclose()  # type: ignore[attr-defined]

    def _add(self, candidate: Candidate, outcome: _Outcome, text: str) -> None:
        outcome.added += text
        self.result.text += text
        self.result.answered_by = candidate.ref
        if not self.result.models or self.result.models[-1] != candidate.ref:
            self.result.models.append(candidate.ref)

    def _discard(self, outcome: _Outcome) -> None:
        """Nothing of this attempt reached the client: it leaves no trace in the answer."""
        if outcome.added:
            self.result.text = self.result.text[: len(self.result.text) - len(outcome.added)]
            outcome.added = ""
            self.result.models = self.result.models[:-1]
            self.result.answered_by = self.result.models[-1] if self.result.models else None

    # -- decisions --

    def _unsuitable(self, candidate: Candidate) -> tuple[str, str] | None:
        """(error kind, message) when `candidate` must not be sent this request at all."""
        window = candidate.context_window
        if window is None:
            return None
        prefill = supports_prefill(candidate.config.kind)
        tokens = estimate_request_tokens(
            self._messages_for(candidate, prefill=prefill), self.request.system
        )
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
        if not self.result.models:
            self.result.models.append(candidate.ref)  # an empty answer is still its answer
        self.result.complete = True
        self.result.max_tokens_reached = bool(outcome.usage and outcome.usage.max_tokens_reached)
        self.result.cut_off = False
        self.result.error = None
        self.finished = True

    def _failed(self, candidate: Candidate, error: ProviderError, *, shown: bool) -> None:
        self.failed_before = True
        if error.kind == "context_too_long" and candidate.context_window is not None:
            self.too_small = max(self.too_small or 0, candidate.context_window)
        if shown:
            self.cut = error
        elif self.cut is None:
            self.last_error = error
        # A continuation that failed leaves `cut` as the user's error.
        if not self.policy.rule(error.kind).fall_back:
            self.finished = True
        if self.cut is not None and not self.policy.continue_cut_answers:
            self.finished = True

    async def _breaker_failure(
        self, candidate: Candidate, error: ProviderError, gate: breaker.Gate
    ) -> None:
        if error.retryable:
            await breaker.record_failure(candidate.ref, gate, clock=self.clock)
        elif gate != "closed":
            # A refusal or a bad request still proves the model is up again.
            await breaker.record_success(candidate.ref, gate)

    def _finalise(self, candidates: list[Candidate]) -> None:
        self._sum_usage()
        if self.result.complete:
            return
        self.result.cut_off = bool(self.result.text)
        error = self.cut or self.last_error
        if error is None:
            error = self._nothing_tried_error(candidates)
        self.result.error = error

    def _sum_usage(self) -> None:
        billed = self.result.usage_by_model()
        if billed:
            self.result.usage = Usage(
                input_tokens=sum(u.input_tokens for _, u in billed),
                output_tokens=sum(u.output_tokens for _, u in billed),
                estimated=any(u.estimated for _, u in billed),
            )

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

    def _messages_for(self, candidate: Candidate, *, prefill: bool) -> tuple[ChatMessage, ...]:
        if self.cut is None or not self.result.text:
            return self.request.messages
        return continuation_messages(self.request.messages, self.result.text, prefill=prefill)

    # -- the record --

    def _usage_of(self, candidate: Candidate, outcome: _Outcome, prefill: bool) -> Usage | None:
        """What this attempt consumed: the provider's count when the stream finished, else an
        estimate when it produced text (a request refused before any text costs nothing)."""
        if outcome.usage is not None:
            return outcome.usage
        if not outcome.received:
            return None
        messages = self._messages_for(candidate, prefill=prefill)
        return Usage(
            input_tokens=estimate_request_tokens(messages, self.request.system),
            output_tokens=estimate_tokens(outcome.received),
            estimated=True,
        )

    def _record(
        self,
        candidate: Candidate,
        outcome: _Outcome,
        *,
        tries: int,
        retried: bool,
        note: str,
        traced: bool = True,
    ) -> None:
        error = outcome.error
        ok = error is None and not outcome.rejected
        usage = self._usage_of(candidate, outcome, outcome.prefill)
        attempt: dict[str, Any] = {
            "model": candidate.ref,
            "ok": ok,
            "outcome": outcome.outcome,
            "error": error.kind if error else ("not_continued" if outcome.rejected else None),
            "message": error.message if error else outcome.rejected,
            "status_code": error.status_code if error else None,
            "retry_after": error.retry_after if error else None,
            "duration_ms": round((self.clock.monotonic() - outcome.started) * 1000),
            "streamed_chars": len(outcome.added),
            "try": tries,
            "retried": retried,
            "continuation": self.cut is not None,
            "usage": (
                {
                    "input": usage.input_tokens,
                    "output": usage.output_tokens,
                    "estimated": usage.estimated,
                }
                if usage is not None
                else None
            ),
        }
        if note:
            attempt["note"] = note
        self.result.attempts.append(attempt)
        if traced:
            self._trace(candidate, outcome, attempt)

    def _trace(self, candidate: Candidate, outcome: _Outcome, attempt: dict[str, Any]) -> None:
        """One span per attempt when tracing is on (routerweb.observability)."""
        if not observability.TRACING:
            return
        observability.attempt_span(
            attempt,
            kind=candidate.config.kind,
            model_id=candidate.model_id,
            base_url=candidate.config.base_url,
            seconds=self.clock.monotonic() - outcome.started,
            temperature=self.request.temperature,
            max_tokens=self.request.max_tokens,
        )

    def _skip(self, candidate: Candidate, kind: str, message: str) -> None:
        log.info("model %s skipped: %s", candidate.ref, message)
        self.result.attempts.append(
            {
                "model": candidate.ref,
                "ok": False,
                "outcome": "skipped",
                "error": kind,
                "message": message,
                "status_code": None,
                "retry_after": None,
                "duration_ms": 0,
                "streamed_chars": 0,
                "try": 0,
                "retried": False,
                "continuation": self.cut is not None,
                "usage": None,
                "skipped": True,
            }
        )


async def _next_event(stream: AsyncIterator[Any], limit: float, message: str, clock: Clock) -> Any:
    """The stream's next event, or a `timeout` ProviderError after `limit` seconds.

    The deadline cancels the pending `__anext__` inside this task, so the adapter's generator
    unwinds (closing its HTTP response) before the error is raised.
    """
    try:
        return await clock.within(anext(stream), limit)
    except TimeoutError:
        raise ProviderError("timeout", message) from None
