"""Embeddings for semantic rules: which model, the cached example index, the message vector.

`semantic_embedder_for(router)` resolves the router's `embedding_model` once (it reads the
catalog) into a `SemanticEmbedder`; the planner (`routers.routing.aroute`) calls it only when
evaluation reaches a run of semantic rules. Caches, per process:

- example embeddings per (router identity, revision, embedding model): a published version
  never changes and every draft edit bumps the draft's revision, so an index is computed once
  per revision and never goes stale;
- message embeddings per (embedding model, text), so the same message (a retry, the test
  panel, a replay) is embedded once.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

import numpy as np
from asgiref.sync import async_to_sync

from engine import RouteInput, RuleError
from engine.compile import CompiledRouter
from engine.limits import MAX_EXAMPLES_PER_ROUTER
from engine.semantic import (
    MAX_EXAMPLE_CHARS,
    MAX_EXAMPLES,
    ExampleIndex,
    SemanticInput,
    normalise,
    rule_score,
    rule_scores,
    semantic_query_text,
    top_k,
)
from providers.embeddings import EmbeddingFailed, EmbeddingTarget, aembed, aembed_counted
from providers.local_embeddings import DEFAULT_EMBEDDING_MODEL, LOCAL_MODELS, is_local_ref
from providers.models import CatalogModel
from providers.services import provider_config_for
from routers.compiling import compiled_router_for, router_identity
from routers.models import Router
from routerweb import clock as clocks

_INDEX_CACHE_SIZE = 64
_VECTOR_CACHE_SIZE = 4096


class _LRU[K, V]:
    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_indexes: _LRU[tuple[str, str, str], ExampleIndex] = _LRU(_INDEX_CACHE_SIZE)
_vectors: _LRU[tuple[str, str], np.ndarray] = _LRU(_VECTOR_CACHE_SIZE)
# One computation of an index at a time per key, so concurrent first messages share it.
_index_locks: dict[tuple[str, str, str], asyncio.Lock] = {}


def clear_caches() -> None:
    _indexes.clear()
    _vectors.clear()


def embedding_target_for_ref(ref: str) -> EmbeddingTarget | str:
    """The target for a `provider/model-id` ref, or why it cannot be used."""

    if not ref:
        ref = DEFAULT_EMBEDDING_MODEL
    if is_local_ref(ref):
        return EmbeddingTarget(ref=ref, model_id=ref.partition("/")[2])
    provider, _, model_id = ref.partition("/")
    model = (
        CatalogModel.objects.select_related("provider")
        .filter(provider__slug=provider, model_id=model_id)
        .first()
    )
    if model is None:
        local = ", ".join(f"local/{name}" for name in LOCAL_MODELS)
        return f"the embedding model {ref} is not in the catalog (local models: {local})"
    if not model.enabled or not model.provider.enabled:
        return f"the embedding model {ref} is disabled"
    if model.kind != "embedding":
        return f"{ref} is a chat model, not an embedding model"
    return EmbeddingTarget(
        ref=ref,
        model_id=model.model_id,
        config=provider_config_for(model),
        dimensions=model.dimensions or None,
        price_per_m=model.input_price_per_m,
    )


@dataclass(frozen=True)
class SemanticEmbedder:
    """Embeds for one router: its identity scopes the example-index cache."""

    router_key: str
    target: EmbeddingTarget | None
    problem: str = ""

    @property
    def model(self) -> str:
        return self.target.ref if self.target is not None else ""

    async def __call__(self, compiled: CompiledRouter, inp: RouteInput) -> SemanticInput:
        if self.target is None:
            return SemanticInput(model="", error=self.problem or "no embedding model")
        clock = clocks.current()
        started = clock.monotonic()
        text = semantic_query_text(inp)
        tokens = 0  # what this message's calls used: a failed call is not billed by providers
        try:
            index, tokens = await self._example_index(compiled)
            vector = _vectors.get((self.target.ref, text))
            cached = vector is not None
            if vector is None:
                embedded = await aembed_counted(self.target, [text], clock=clock)
                vector = normalise(embedded.matrix[0])
                tokens += embedded.input_tokens
                _vectors.put((self.target.ref, text), vector)
        except EmbeddingFailed as exc:
            return SemanticInput(
                model=self.target.ref,
                error=str(exc),
                latency_ms=(clock.monotonic() - started) * 1000,
                text=text,
                input_tokens=tokens,
                cost=self.target.cost(tokens),
            )
        return SemanticInput(
            model=self.target.ref,
            vector=vector,
            index=index,
            latency_ms=(clock.monotonic() - started) * 1000,
            cached=cached,
            text=text,
            input_tokens=tokens,
            cost=self.target.cost(tokens),
        )

    async def example_index(self, compiled: CompiledRouter) -> ExampleIndex:
        """The router's example embeddings, computed once per router version."""
        return (await self._example_index(compiled))[0]

    async def _example_index(self, compiled: CompiledRouter) -> tuple[ExampleIndex, int]:
        """The index, and the input tokens spent on it now (0 when it came from the cache)."""
        assert self.target is not None
        key = (self.router_key, compiled.revision, self.target.ref)
        index = _indexes.get(key)
        if index is not None:
            return index, 0
        tokens = 0
        lock = _index_locks.setdefault(key, asyncio.Lock())
        async with lock:
            index = _indexes.get(key)
            if index is None:
                index, tokens = await _build_index(compiled, self.target)
                _indexes.put(key, index)
        _index_locks.pop(key, None)
        return index, tokens


async def _build_index(
    compiled: CompiledRouter, target: EmbeddingTarget
) -> tuple[ExampleIndex, int]:
    """Every semantic rule's examples embedded (all rules, in one batched call), and the input
    tokens that used."""
    rules = [r for r in compiled.rules if r.is_semantic]
    texts = [example for r in rules for example in r.examples]
    embedded = await aembed_counted(target, texts) if texts else None
    matrix = normalise(embedded.matrix) if embedded is not None else None
    vectors: dict[int, np.ndarray] = {}
    start = 0
    for rule in rules:
        assert matrix is not None
        vectors[rule.id] = matrix[start : start + len(rule.examples)]
        start += len(rule.examples)
    return ExampleIndex(target.ref, vectors), embedded.input_tokens if embedded else 0


def semantic_embedder_for(router: Router) -> SemanticEmbedder:

    resolved = embedding_target_for_ref(router.embedding_model)
    key = router_identity(router)
    if isinstance(resolved, str):
        return SemanticEmbedder(key, None, resolved)
    return SemanticEmbedder(key, resolved)


# --- builder helpers: duplicates and a suggested threshold ----------------------------------

NEAR_DUPLICATE = 0.95


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def example_flags(
    rules: list[tuple[int, str, list[str]]], vectors: dict[int, np.ndarray] | None = None
) -> dict[int, list[str]]:
    """Per rule id, sentences flagging examples that also stand (exactly, or nearly: cosine ≥
    `NEAR_DUPLICATE` when `vectors` are given) in another semantic rule of the router."""
    flags: dict[int, list[str]] = {rule_id: [] for rule_id, _, _ in rules}
    seen: dict[str, tuple[int, str]] = {}
    exact: set[tuple[int, int, str]] = set()
    for rule_id, name, examples in rules:
        for example in examples:
            other = seen.get(_key(example))
            if other is not None and other[0] != rule_id:
                exact.add((rule_id, other[0], example))
                flags[rule_id].append(f"“{example}” is also an example of “{other[1]}”")
                flags[other[0]].append(f"“{example}” is also an example of “{name}”")
            seen.setdefault(_key(example), (rule_id, name))
    if vectors:
        for i, (a_id, a_name, a_examples) in enumerate(rules):
            for b_id, b_name, b_examples in rules[i + 1 :]:
                a, b = vectors.get(a_id), vectors.get(b_id)
                if a is None or b is None or a.shape[1] != b.shape[1]:
                    continue
                sims = a @ b.T
                for x, y in zip(*np.nonzero(sims >= NEAR_DUPLICATE), strict=True):
                    ea, eb = a_examples[int(x)], b_examples[int(y)]
                    if _key(ea) == _key(eb):
                        continue
                    score = float(sims[x, y])
                    flags[a_id].append(
                        f"“{ea}” is nearly the same as “{eb}” in “{b_name}” ({score:.2f})"
                    )
                    flags[b_id].append(
                        f"“{eb}” is nearly the same as “{ea}” in “{a_name}” ({score:.2f})"
                    )
    return flags


@dataclass(frozen=True)
class ThresholdSuggestion:
    threshold: float | None
    explanation: str


def suggest_threshold(own: np.ndarray, others: np.ndarray) -> ThresholdSuggestion:
    """Pick a threshold from the rule's own examples by leave-one-out.

    Each own example is scored against the rule's other examples (as if it were a message,
    with the engine's own score, `rule_score`): those scores should reach the threshold. Each
    example of the router's other semantic rules is scored against this rule's examples: those
    should stay below it. The threshold is the midpoint of the widest gap that gets the most
    of both right.
    """
    n = own.shape[0]
    if n < 2:
        return ThresholdSuggestion(None, "Give at least 2 examples to suggest a threshold.")
    k = top_k(n)
    sims = own @ own.T
    positives = np.sort(
        np.array([rule_score(np.delete(sims[i], i), k) for i in range(n)], dtype=np.float32)
    )
    negatives = np.sort(rule_scores(others @ own.T)) if others.shape[0] else np.zeros(0)
    scored = "its nearest example" if k == 1 else f"its {k} nearest examples (mean)"
    if negatives.size == 0:
        threshold = round(max(0.0, float(positives[0]) - 0.05), 2)
        warning = (
            " That is low: this model finds the examples far apart, so almost any message "
            "would match — add examples closer to each other, or use a stronger embedding model."
            if threshold < 0.2
            else ""
        )
        return ThresholdSuggestion(
            threshold,
            f"Leave-one-out: each of the {n} examples scored {positives[0]:.2f}–"
            f"{positives[-1]:.2f} against {scored} among the others. No other semantic rule "
            f"to tell apart, so the threshold sits 0.05 below the lowest score: "
            f"{threshold:.2f}.{warning}",
        )
    candidates = sorted(set(np.round(np.concatenate([positives, negatives]), 4).tolist()))
    best: tuple[int, float, float] | None = None  # (correct, gap, threshold)
    cuts = [candidates[0] - 0.01, *candidates, candidates[-1] + 0.01]
    for low, high in zip(cuts, cuts[1:], strict=False):
        t = (low + high) / 2
        correct = int((positives >= t).sum() + (negatives < t).sum())
        key = (correct, high - low, t)
        if best is None or key[:2] > best[:2]:
            best = key
    assert best is not None
    correct, _, t = best
    threshold = round(min(1.0, max(0.0, t)), 2)
    kept = int((positives >= threshold).sum())
    rejected = int((negatives < threshold).sum())
    return ThresholdSuggestion(
        threshold,
        f"Leave-one-out: each of the {n} examples scored {positives[0]:.2f}–{positives[-1]:.2f} "
        f"against {scored} among the others; the {negatives.size} examples of the other "
        f"semantic rules scored {negatives[0]:.2f}–{negatives[-1]:.2f} against these. {threshold:.2f} keeps {kept} of "
        f"{n} examples and turns away {rejected} of {negatives.size} others.",
    )


def too_many_to_embed(examples: list[str]) -> str:
    """Why the examples typed in a rule form are not embedded (each embedding may be paid
    for, and a form can post far more than a rule may hold), or "": the rule's own limits."""
    filled = [e for e in examples if e.strip()]
    if len(filled) > MAX_EXAMPLES:
        return f"A rule holds at most {MAX_EXAMPLES} examples (the form has {len(filled):,})."
    if any(len(e.strip()) > MAX_EXAMPLE_CHARS for e in filled):
        return f"An example holds at most {MAX_EXAMPLE_CHARS:,} characters."
    return ""


def _embed_sync(target: EmbeddingTarget, texts: list[str]) -> np.ndarray:

    return normalise(async_to_sync(aembed)(target, texts))


def suggest_threshold_for(
    *, router: Router, examples: list[str], exclude_rule_id: int | None
) -> ThresholdSuggestion:
    """`suggest_threshold` for examples typed in the builder, against the router's other
    semantic rules, with the router's embedding model."""
    if problem := too_many_to_embed(examples):
        return ThresholdSuggestion(None, problem)
    embedder = semantic_embedder_for(router)
    if embedder.target is None:
        return ThresholdSuggestion(None, f"Cannot embed: {embedder.problem}.")
    rules = router.rules.filter(kind="semantic")
    if exclude_rule_id is not None:
        rules = rules.exclude(pk=exclude_rule_id)
    # A router holds at most MAX_EXAMPLES_PER_ROUTER (one saved before that limit may hold more).
    others = [example for rule in rules for example in (rule.examples or [])]
    others = others[:MAX_EXAMPLES_PER_ROUTER]
    own = list(dict.fromkeys(e.strip() for e in examples if e.strip()))
    if len(own) < 2:
        return ThresholdSuggestion(None, "Give at least 2 examples to suggest a threshold.")
    try:
        matrix = _embed_sync(embedder.target, own + others)
    except EmbeddingFailed as exc:
        return ThresholdSuggestion(None, f"Cannot embed: {exc}.")
    return suggest_threshold(matrix[: len(own)], matrix[len(own) :])


def example_flags_for(router: Router, rules: list) -> dict[int, list[str]]:
    """Duplicate and near-duplicate flags for the router page (near ones when embeddable)."""
    semantic = [(r.pk, r.name, list(r.examples or [])) for r in rules if r.kind == "semantic"]
    if len(semantic) < 2:
        return {}
    vectors: dict[int, np.ndarray] | None = None
    embedder = semantic_embedder_for(router)
    if embedder.target is not None:
        try:
            compiled = compiled_router_for(router)
            vectors = dict(async_to_sync(embedder.example_index)(compiled).vectors)
        except (RuleError, EmbeddingFailed):  # a hint only: exact duplicates still show
            vectors = None
    return example_flags(semantic, vectors)


@dataclass(frozen=True)
class FormExampleFlags:
    """Flags for the examples typed in the rule form, one list per example, and a summary."""

    flags: list[list[str]]
    summary: str


def example_flags_for_form(
    *, router: Router, examples: list[str], exclude_rule_id: int | None
) -> FormExampleFlags:
    """Flag each example being edited: a repeat within the rule (kept once when saved), the
    same example in another semantic rule of the router, or nearly the same (cosine ≥
    `NEAR_DUPLICATE` with the router's embedding model) — such overlaps make the two rules
    compete for the same messages."""
    rules = router.rules.filter(kind="semantic").order_by("position", "pk")
    if exclude_rule_id is not None:
        rules = rules.exclude(pk=exclude_rule_id)
    others = [(rule.name, example) for rule in rules for example in (rule.examples or [])]
    others = others[:MAX_EXAMPLES_PER_ROUTER]
    if problem := too_many_to_embed(examples):
        return FormExampleFlags([[] for _ in examples], problem)
    flags: list[list[str]] = [[] for _ in examples]
    first_seen: dict[str, int] = {}
    by_key: dict[str, str] = {}
    for name, example in others:
        by_key.setdefault(_key(example), name)
    exact = 0
    for i, example in enumerate(examples):
        key = _key(example)
        if not key:
            continue
        if key in first_seen:
            flags[i].append(f"repeats example {first_seen[key] + 1} (kept once)")
        else:
            first_seen[key] = i
        if key in by_key:
            exact += 1
            flags[i].append(f"also an example of “{by_key[key]}”")
    near = 0
    note = ""
    filled = [i for i, example in enumerate(examples) if _key(example)]
    embedder = semantic_embedder_for(router)
    if others and filled:
        if embedder.target is None:
            note = f" Near-duplicates not checked: {embedder.problem}."
        else:
            texts = [examples[i] for i in filled] + [example for _, example in others]
            try:
                matrix = _embed_sync(embedder.target, texts)
            except EmbeddingFailed as exc:
                note = f" Near-duplicates not checked: {exc}."
            else:
                sims = matrix[: len(filled)] @ matrix[len(filled) :].T
                for row, i in enumerate(filled):
                    column = int(np.argmax(sims[row]))
                    score = float(sims[row, column])
                    name, other = others[column]
                    if score >= NEAR_DUPLICATE and _key(other) != _key(examples[i]):
                        near += 1
                        flags[i].append(f"nearly the same as “{other}” in “{name}” ({score:.2f})")
    repeats = sum(1 for f in flags if any(x.startswith("repeats") for x in f))
    parts = []
    if exact:
        parts.append(f"{exact} also in another rule")
    if near:
        parts.append(f"{near} nearly the same as another rule's (cosine ≥ {NEAR_DUPLICATE})")
    if repeats:
        parts.append(f"{repeats} repeated in this rule")
    if parts:
        summary = "Examples flagged: " + "; ".join(parts) + "." + note
    elif not filled:
        summary = ""
    else:
        checked = "exactly or nearly" if not note and others else "exactly"
        summary = f"No example repeats another semantic rule's ({checked}).{note}"
    return FormExampleFlags(flags, summary.strip())
