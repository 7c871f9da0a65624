"""Embedding texts with a catalog embedding model or the local model, for semantic rules.

One function, `aembed`, for every kind: the local model2vec model in-process, or a provider's
embedding model through its adapter (the official SDKs: OpenAI `embeddings.create`, Gemini
`embed_content`, `/v1/embeddings` of OpenAI-compatible servers; the demo's simulated model;
Anthropic says it has no embedding API).

Failure policy for embeddings: texts go in batches of `EMBEDDING_BATCH_SIZE`; each batch has
`EMBEDDING_TIMEOUT`; a retryable failure (rate limit, 5xx, timeout, dropped connection) is
retried once, then counted by the same circuit breaker as chat calls (keyed `embed:<ref>`), so
a failing embedding model is skipped for the cool-off instead of slowing every message. There
is no fallback model: vectors from two models are not comparable, so when embedding fails the
semantic rules are skipped and the routing reason says why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.conf import settings

from providers import breaker
from providers.adapter_pool import adapter_for
from providers.adapters.base import Embeddings, ProviderConfig, ProviderError
from providers.local_embeddings import LocalModelUnavailable, encode, local_models
from routerweb import clock as clocks
from routerweb.clock import Clock


class EmbeddingFailed(Exception):
    """Embedding did not work; the message is written for the routing reason."""


@dataclass(frozen=True, slots=True)
class EmbeddingTarget:
    ref: str
    model_id: str
    # None for the local model.
    config: ProviderConfig | None = field(default=None, repr=False)
    dimensions: int | None = None
    # The catalog's price per 1M input tokens (None: free, like the local model).
    price_per_m: Decimal | None = None

    def cost(self, input_tokens: int) -> Decimal:
        """Exact (not rounded to a micro-dollar): one message's embedding costs less than that
        with most models, and budgets round once, on the answer's total."""
        if not self.price_per_m or input_tokens <= 0:
            return Decimal(0)
        return self.price_per_m * input_tokens / Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Embedded:
    """Vectors and what the provider counted for them (0 tokens for the local model)."""

    matrix: np.ndarray
    input_tokens: int = 0
    estimated: bool = False


async def aembed(
    target: EmbeddingTarget, texts: Sequence[str], *, clock: Clock | None = None
) -> np.ndarray:
    """One float32 row per text, in order. Raises `EmbeddingFailed` with the reason.

    `clock` (default `routerweb.clock.current()`) runs each batch's timeout and the breaker.
    """
    return (await aembed_counted(target, texts, clock=clock)).matrix


async def aembed_counted(
    target: EmbeddingTarget, texts: Sequence[str], *, clock: Clock | None = None
) -> Embedded:
    """`aembed` with the input tokens the calls used (for spend: `target.cost(tokens)`)."""
    if not texts:
        return Embedded(np.zeros((0, target.dimensions or 0), dtype=np.float32))
    if target.config is None:
        return Embedded(await _local(target, texts))
    return await _remote(target, texts, clock or clocks.current())


async def _local(target: EmbeddingTarget, texts: Sequence[str]) -> np.ndarray:
    model = local_models.loaded(target.model_id)
    try:
        if model is None:  # first use in this process: load off the event loop
            model = await asyncio.to_thread(local_models.get, target.model_id)
        return encode(model, texts)
    except LocalModelUnavailable as exc:
        raise EmbeddingFailed(str(exc)) from None


async def _remote(target: EmbeddingTarget, texts: Sequence[str], clock: Clock) -> Embedded:
    assert target.config is not None
    key = f"embed:{target.ref}"
    verdict = await breaker.check(key, clock=clock)
    if verdict.gate == "open":
        raise EmbeddingFailed(
            f"{target.ref} failed repeatedly and is paused for {verdict.retry_in:.0f} s"
        )
    adapter = await adapter_for(target.config)
    size = max(1, int(settings.EMBEDDING_BATCH_SIZE))
    timeout = float(settings.EMBEDDING_TIMEOUT)
    rows: list[tuple[float, ...]] = []
    tokens = 0
    estimated = False
    try:
        for start in range(0, len(texts), size):
            batch = tuple(texts[start : start + size])
            result = await _batch(
                adapter, target, batch, timeout, clock, retry=verdict.gate == "closed"
            )
            rows.extend(result.vectors)
            tokens += result.input_tokens
            estimated = estimated or result.estimated
    except EmbeddingFailed:
        await breaker.record_failure(key, verdict.gate, clock=clock)
        raise
    await breaker.record_success(key, verdict.gate)
    matrix = np.asarray(rows, dtype=np.float32)
    if matrix.ndim != 2 or (target.dimensions and matrix.shape[1] != target.dimensions):
        got = matrix.shape[1] if matrix.ndim == 2 else "uneven"
        raise EmbeddingFailed(
            f"{target.ref} returned vectors of {got} dimensions, "
            f"the catalog says {target.dimensions}"
        )
    return Embedded(matrix, tokens, estimated)


async def _batch(
    adapter,
    target: EmbeddingTarget,
    batch: tuple[str, ...],
    timeout: float,
    clock: Clock,
    *,
    retry: bool,
) -> Embeddings:
    attempts = 2 if retry else 1
    for attempt in range(attempts):
        try:
            return await clock.within(adapter.embed(target.model_id, batch), timeout)
        except TimeoutError:
            if attempt + 1 == attempts:
                raise EmbeddingFailed(f"{target.ref} did not answer within {timeout:g} s") from None
        except ProviderError as exc:
            if not exc.retryable or attempt + 1 == attempts:
                raise EmbeddingFailed(f"{target.ref} failed: {exc.kind}: {exc.message}") from None
    raise AssertionError("unreachable")
