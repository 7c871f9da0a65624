"""Routing a message with a router: the engine's evaluate → (one classifier call) → decide.

The engine is pure and synchronous; the only I/O of a decision is the classifier call, made
here through the provider adapters, at most once per message, with a strict timeout and a
cache keyed by (router version, recent conversation). Sticky state lives in the shared cache
so every web process agrees on it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from engine import (
    ClassifierVerdict,
    Decision,
    Evaluation,
    HistoryMessage,
    RouteInput,
    StickyState,
    build_classifier_prompt,
    classifier_verdict,
    decide,
    evaluate,
)
from engine.compile import CompiledRouter
from engine.facets import Facets
from engine.semantic import SemanticInput
from engine.types import Restriction
from providers import adapter_pool, breaker
from providers.adapters.base import ChatMessage, ChatRequest, ProviderConfig, ProviderError
from providers.models import CatalogModel
from providers.services import provider_config_for
from routers.compiling import router_identity
from routers.models import Router
from routers.semantic import SemanticEmbedder
from routerweb import clock as clocks
from routerweb import shared_cache
from routerweb.clock import Clock

log = logging.getLogger(__name__)

# Keys in the shared cache (routerweb.shared_cache: no thread hop on the answer's path).
_CLASSIFIER_CACHE_PREFIX = "clf:"
_STICKY_PREFIX = "sticky:"


@dataclass(frozen=True)
class ClassifierTarget:
    ref: str
    model_id: str
    config: ProviderConfig
    # Scopes cached verdicts to this very router (see compiling.router_identity).
    cache_namespace: str = ""


def classifier_target_for(router: Router) -> ClassifierTarget | None:
    """The model that judges LLM rules (the classifier model, else the primary), if usable."""
    model: CatalogModel | None = router.classifier_model or router.primary_model
    if model is None or not model.enabled or not model.provider.enabled:
        return None

    return ClassifierTarget(
        ref=model.ref,
        model_id=model.model_id,
        config=provider_config_for(model),
        cache_namespace=router_identity(router),
    )


# The verdict keys the running request has looked up (its task's context), when its caller
# asked to know them (`noting_verdict_keys`): the gateway guesses them for the next identical
# call, to read them in its one prefetch round trip.
_noted_keys: ContextVar[list[str] | None] = ContextVar("classifier_keys_noted", default=None)


def noting_verdict_keys() -> list[str]:
    """From now on in this request, the cache keys of the verdicts it looks up go to the list
    returned (in order)."""
    keys: list[str] = []
    _noted_keys.set(keys)
    return keys


async def classify(
    prompt, target: ClassifierTarget, *, clock: Clock | None = None
) -> ClassifierVerdict:
    """One classifier call, through the provider layer as answers are: the pooled adapter, the
    circuit breaker, one timeout (`CLASSIFIER_TIMEOUT`). Never raises: failures become a verdict
    with `error` set. A classifier model that keeps failing opens its breaker, so later messages
    skip it at once instead of each waiting out the timeout."""
    key = f"{_CLASSIFIER_CACHE_PREFIX}{target.cache_namespace}:{prompt.cache_key}"
    noted = _noted_keys.get()
    if noted is not None:
        noted.append(key)
    try:
        cached = await shared_cache.get(key)
    except Exception:  # a cache outage must not stop routing
        log.warning("classifier cache unavailable", exc_info=True)
        cached = None
    if cached is not None:
        return ClassifierVerdict(**json.loads(cached), cached=True)

    request = ChatRequest(
        model=target.model_id,
        messages=(ChatMessage(role="user", text=prompt.user),),
        system=prompt.system,
        temperature=0.0,
        max_tokens=prompt.max_output_tokens,
        # One structured answer: the rule alone, or every field asked (rule, category,
        # complexity, tier) in the same call.
        choices=None if prompt.fields else prompt.labels,
        fields=prompt.fields or None,
    )
    clock = clock or clocks.current()
    timeout = settings.CLASSIFIER_TIMEOUT
    started = clock.monotonic()

    def failed(error: str, raw: str = "", tokens: tuple[int, int] = (0, 0)) -> ClassifierVerdict:
        return ClassifierVerdict(
            rule_id=None,
            label=None,
            raw=raw,
            latency_ms=round((clock.monotonic() - started) * 1000, 1),
            input_tokens=tokens[0],
            output_tokens=tokens[1],
            error=error,
        )

    gate = await breaker.check(target.ref, clock=clock)
    if gate.gate == "open":
        return failed(f"the classifier ({target.ref}) is skipped: it failed repeatedly just now")
    try:
        adapter = await adapter_pool.adapter_for(target.config)
        completion = await clock.within(adapter.complete(request), timeout)
    except TimeoutError:
        await breaker.record_failure(target.ref, gate.gate, clock=clock)
        return failed(f"the classifier ({target.ref}) did not answer within {timeout:g} s")
    except ProviderError as exc:
        if exc.retryable:
            await breaker.record_failure(target.ref, gate.gate, clock=clock)
        elif gate.gate != "closed":
            await breaker.record_success(target.ref, gate.gate)  # it answered: it is up
        return failed(f"the classifier ({target.ref}) failed: {exc.kind}: {exc.message}")
    await breaker.record_success(target.ref, gate.gate)
    tokens = (completion.usage.input_tokens, completion.usage.output_tokens)
    verdict = classifier_verdict(
        completion.text,
        prompt,
        latency_ms=round((clock.monotonic() - started) * 1000, 1),
        input_tokens=tokens[0],
        output_tokens=tokens[1],
    )
    if verdict.error:
        shown = completion.text.strip()[:80]
        what = "names no offered rule" if not prompt.fields else f"is unusable ({verdict.error})"
        return failed(f"the classifier's answer {shown!r} {what}", completion.text, tokens)
    try:
        await shared_cache.set(
            key, json.dumps(_verdict_fields(verdict)), settings.CLASSIFIER_CACHE_SECONDS
        )
    except Exception:
        log.warning("classifier cache unavailable", exc_info=True)
    return verdict


def _verdict_fields(verdict: ClassifierVerdict) -> dict:
    fields = verdict.to_dict()
    fields.pop("cached", None)
    fields.pop("excerpt", None)  # re-attached from the prompt on every use
    return fields


# Above this many characters, a message's rules are evaluated in a worker thread instead of on
# the event loop. Matching is one linear pass, but a 100,000-character message against a router
# at its limits costs tens of milliseconds the first time (bench/engine.py), during which the
# loop would serve no other request, health checks included; below it, the thread hop costs
# more than the evaluation.
EVALUATE_IN_THREAD_CHARS = 8_000


async def aevaluate(
    compiled: CompiledRouter,
    inp: RouteInput,
    *,
    semantic: SemanticInput | None = None,
    facets: Facets | None = None,
) -> Evaluation:
    """`evaluate`, off the event loop when the message is long enough to be slow."""
    if len(inp.text) > EVALUATE_IN_THREAD_CHARS:
        return await asyncio.to_thread(evaluate, compiled, inp, semantic=semantic, facets=facets)
    return evaluate(compiled, inp, semantic=semantic, facets=facets)


async def aroute(
    compiled: CompiledRouter,
    inp: RouteInput,
    *,
    target: ClassifierTarget | None,
    sticky: StickyState | None = None,
    embedder: SemanticEmbedder | None = None,
    restriction: Restriction | None = None,
) -> Decision:
    """`restriction` (a policy's approved models) binds the classifier too: a message that
    may not go to a model is not classified by it either (`inp` is already masked)."""
    evaluation = await aevaluate(compiled, inp)
    if evaluation.needs_embedding:
        # A run of semantic rules was reached: embed the message (once), evaluate again.
        if embedder is None:
            semantic = SemanticInput(model="", error="no embedding model is configured")
        elif (
            restriction is not None
            and embedder.target is not None
            and embedder.target.config is not None  # the local model never sends text out
            and embedder.model not in restriction.models
        ):
            semantic = SemanticInput(
                model=embedder.model,
                error=(
                    f"the embedding model ({embedder.model}) is not approved by "
                    f"{restriction.label}, so it was not asked"
                ),
            )
        else:
            semantic = await embedder(compiled, inp)
        evaluation = await aevaluate(compiled, inp, semantic=semantic)
    verdict: ClassifierVerdict | None = None
    if evaluation.needs_classifier:
        prompt = build_classifier_prompt(compiled, evaluation, inp)
        if restriction is not None and target is not None and target.ref not in restriction.models:
            verdict = ClassifierVerdict(
                rule_id=None,
                label=None,
                raw="",
                latency_ms=0.0,
                input_tokens=0,
                output_tokens=0,
                error=(
                    f"the classifier ({target.ref}) is not approved by "
                    f"{restriction.label}, so it was not asked"
                ),
            )
        elif target is None:
            verdict = ClassifierVerdict(
                rule_id=None,
                label=None,
                raw="",
                latency_ms=0.0,
                input_tokens=0,
                output_tokens=0,
                error="no usable classifier model is configured",
            )
        else:
            verdict = await classify(prompt, target)
        # Under a restricting policy the excerpt holds the very data the policy is about;
        # the badge and the log must not repeat it.
        excerpt = "(not shown: a data policy applied)" if restriction else prompt.excerpt
        verdict = dataclasses.replace(verdict, excerpt=excerpt)
    if evaluation.needs_facets:
        # The rules on category/complexity can now be decided (unknown if the call failed).
        facets = verdict.facets if verdict is not None else Facets(None, None, "not asked")
        evaluation = await aevaluate(compiled, inp, semantic=evaluation.semantic, facets=facets)
    return decide(
        compiled, evaluation, classifier=verdict, sticky=sticky, inp=inp, restriction=restriction
    )


@dataclass(frozen=True)
class Preview:
    """What sending would decide, short of any model call (`preview_decide`)."""

    decision: Decision
    # LLM-classified rules the classifier would be asked about (the preview does not ask).
    pending_llm_rules: tuple[str, ...] = ()
    # Semantic rules the preview could not judge (it embeds nothing).
    pending_semantic_rules: tuple[str, ...] = ()
    # Rules on category/complexity, which need the classifier's judgement.
    pending_facet_rules: tuple[str, ...] = ()


def preview_decide(
    compiled: CompiledRouter,
    inp: RouteInput,
    *,
    sticky: StickyState | None = None,
    restriction: Restriction | None = None,
) -> Preview:
    """`aroute` without the classifier and embedding calls: LLM rules are left undecided
    (listed as pending), semantic rules are shown as still possible and the rules after them
    are evaluated as if none matched."""
    evaluation = evaluate(compiled, inp)
    pending_semantic: tuple[str, ...] = ()
    if evaluation.needs_embedding:
        evaluation = evaluate(
            compiled, inp, semantic=SemanticInput(model="", error="not embedded in the preview")
        )
        pending_semantic = tuple(
            r.name for r in compiled.rules if r.id in evaluation.semantic_scores
        )
    pending_facets: tuple[str, ...] = ()
    if evaluation.needs_facets:
        # Category/complexity need the classifier, which the preview does not call: those
        # rules are pending like LLM rules, and the rest is evaluated as if none matched.
        reached = {r.id for r, _ in zip(compiled.rules, evaluation.outcomes, strict=False)}
        pending_facets = tuple(
            r.name for r in compiled.rules if r.enabled and r.needs_facets and r.id in reached
        )
        evaluation = evaluate(
            compiled,
            inp,
            semantic=evaluation.semantic,
            facets=Facets(None, None, "not judged in the preview"),
        )
    decision = decide(
        compiled, evaluation, classifier=None, sticky=sticky, inp=inp, restriction=restriction
    )
    names = {r.id: r.name for r in compiled.rules}
    return Preview(
        decision,
        pending_llm_rules=tuple(names[i] for i in evaluation.offered),
        pending_semantic_rules=pending_semantic,
        pending_facet_rules=pending_facets,
    )


@dataclass(frozen=True)
class Turn:
    """One message of a conversation as routing sees it: who said what, what was attached."""

    role: str  # "user" or "assistant"
    text: str
    attachment_types: tuple[str, ...] = ()

    @property
    def images(self) -> int:
        return sum(1 for t in self.attachment_types if t.startswith("image/"))


def at_time_of_day(router: Router, hhmm: str) -> datetime:
    """Today at `hhmm` ("HH:MM") in the router's time zone (the test panel's "time of day")."""
    hour, minute = (int(part) for part in hhmm.split(":", 1))
    local = timezone.now().astimezone(ZoneInfo(router.time_zone))
    return local.replace(hour=hour, minute=minute, second=0, microsecond=0)


def route_input_of(
    turns: Sequence[Turn],
    *,
    user: str,
    groups: tuple[str, ...],
    workspace: str = "",
    workspace_tags: tuple[str, ...] = (),
    workspace_type: str = "",
    now: datetime | None = None,
    conversation_tokens: int | None = None,
    turn_count: int | None = None,
    user_tier: str = "",
    workspace_tier: str = "",
) -> RouteInput:
    """The engine's input for a conversation: the last user message is the text, the turns
    before it the history. The one builder for every surface (chat, preview, /v1, test panel,
    dry-run, `manage.py route`), so all see the same history, attachments, time and people."""
    last_user = max((i for i, t in enumerate(turns) if t.role == "user"), default=None)
    last = turns[last_user] if last_user is not None else None
    earlier = turns[:last_user] if last_user is not None else turns
    types = last.attachment_types if last is not None else ()
    return RouteInput(
        text=last.text if last is not None else "",
        now=now or timezone.now(),
        history=tuple(HistoryMessage(role=t.role, text=t.text, images=t.images) for t in earlier),
        has_image=any(t.startswith("image/") for t in types),
        attachment_types=types,
        user=user,
        groups=groups,
        workspace=workspace,
        workspace_tags=workspace_tags,
        workspace_type=workspace_type,
        conversation_tokens=conversation_tokens,
        turns=turn_count,
        user_tier=user_tier,
        workspace_tier=workspace_tier,
    )


# --- Sticky routes (shared cache) ---------------------------------------------------------


def _sticky_key(router: Router, thread_key: str) -> str:
    return f"{_STICKY_PREFIX}{router_identity(router)}:{thread_key}"


async def asticky_get(router: Router, thread_key: str) -> StickyState | None:
    try:
        stored = await shared_cache.get(_sticky_key(router, thread_key))
    except Exception:
        log.warning("sticky cache unavailable", exc_info=True)
        return None
    if not stored:
        return None
    raw = json.loads(stored)
    return StickyState(
        rule_id=raw["rule_id"],
        model_ref=raw["model_ref"],
        answered_at=datetime.fromisoformat(raw["answered_at"]),
    )


async def asticky_set(router: Router, thread_key: str, *, rule_id: int, model_ref: str) -> None:
    """Remember the rule that answered, from the end of the answer, for the router's cool-down."""
    value = {"rule_id": rule_id, "model_ref": model_ref, "answered_at": timezone.now().isoformat()}
    ttl = int(timedelta(minutes=router.cooldown_minutes).total_seconds()) + 60
    try:
        await shared_cache.set(_sticky_key(router, thread_key), json.dumps(value), ttl)
    except Exception:
        log.warning("sticky cache unavailable", exc_info=True)
