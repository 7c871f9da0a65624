"""Embeddings for semantic rules: which model, the cached example index, the message vector.

`semantic_embedder_for(router)` resolves the router's `embedding_model` once (it reads the
catalog) into a `SemanticEmbedder`; the planner (`routers.routing.aroute`) calls it only when
evaluation reaches a run of semantic rules. Caches, per process:

- example embeddings per (router identity, version, embedding model): every edit bumps the
  version, so an index is computed once per router version and never goes stale;
- message embeddings per (embedding model, text), so the same message (a retry, the test
  panel, a replay) is embedded once.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

import numpy as np

from chat.models import CatalogModel
from engine import RouteInput
from engine.compile import CompiledRouter
from engine.semantic import ExampleIndex, SemanticInput, normalise, semantic_query_text
from providers.embeddings import EmbeddingFailed, EmbeddingTarget, aembed
from providers.local_embeddings import DEFAULT_EMBEDDING_MODEL, LOCAL_MODELS, is_local_ref
from routers.models import Router

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


_indexes: _LRU[tuple[str, int, str], ExampleIndex] = _LRU(_INDEX_CACHE_SIZE)
_vectors: _LRU[tuple[str, str], np.ndarray] = _LRU(_VECTOR_CACHE_SIZE)
# One computation of an index at a time per key, so concurrent first messages share it.
_index_locks: dict[tuple[str, int, str], asyncio.Lock] = {}


def clear_caches() -> None:
    _indexes.clear()
    _vectors.clear()


def embedding_target_for_ref(ref: str) -> EmbeddingTarget | str:
    """The target for a `provider/model-id` ref, or why it cannot be used."""
    from chat.services import provider_config_for

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
    if getattr(model, "kind", "embedding") != "embedding":
        return f"{ref} is a chat model, not an embedding model"
    return EmbeddingTarget(
        ref=ref,
        model_id=model.model_id,
        config=provider_config_for(model),
        dimensions=getattr(model, "dimensions", None) or None,
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
        started = time.perf_counter()
        text = semantic_query_text(inp)
        try:
            index = await self._index(compiled)
            vector = _vectors.get((self.target.ref, text))
            cached = vector is not None
            if vector is None:
                vector = normalise((await aembed(self.target, [text]))[0])
                _vectors.put((self.target.ref, text), vector)
        except EmbeddingFailed as exc:
            return SemanticInput(
                model=self.target.ref,
                error=str(exc),
                latency_ms=(time.perf_counter() - started) * 1000,
                text=text,
            )
        return SemanticInput(
            model=self.target.ref,
            vector=vector,
            index=index,
            latency_ms=(time.perf_counter() - started) * 1000,
            cached=cached,
            text=text,
        )

    async def _index(self, compiled: CompiledRouter) -> ExampleIndex:
        assert self.target is not None
        key = (self.router_key, compiled.version, self.target.ref)
        index = _indexes.get(key)
        if index is not None:
            return index
        lock = _index_locks.setdefault(key, asyncio.Lock())
        async with lock:
            index = _indexes.get(key)
            if index is None:
                index = await example_index(compiled, self.target)
                _indexes.put(key, index)
        _index_locks.pop(key, None)
        return index


async def example_index(compiled: CompiledRouter, target: EmbeddingTarget) -> ExampleIndex:
    """Every semantic rule's examples embedded (all rules, in one batched call)."""
    rules = [r for r in compiled.rules if r.is_semantic]
    texts = [example for r in rules for example in r.examples]
    matrix = normalise(await aembed(target, texts)) if texts else None
    vectors: dict[int, np.ndarray] = {}
    start = 0
    for rule in rules:
        assert matrix is not None
        vectors[rule.id] = matrix[start : start + len(rule.examples)]
        start += len(rule.examples)
    return ExampleIndex(target.ref, vectors)


def semantic_embedder_for(router: Router) -> SemanticEmbedder:
    from routers.compiling import router_identity

    resolved = embedding_target_for_ref(router.embedding_model)
    key = router_identity(router)
    if isinstance(resolved, str):
        return SemanticEmbedder(key, None, resolved)
    return SemanticEmbedder(key, resolved)
