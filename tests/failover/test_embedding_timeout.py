"""A slow embedding model: each batch's deadline runs on the injected clock, so a model that
does not answer in time skips the semantic rules with the reason — and nothing really waits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine import ModelInfo, RouteInput, RouterSpec, RuleSpec, compile_router, decide, evaluate
from providers.embeddings import EmbeddingTarget
from routers.semantic import SemanticEmbedder, clear_caches
from tests.failover.conftest import candidate, sent_to

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _embedding_policy(settings):
    settings.EMBEDDING_TIMEOUT = 5.0
    clear_caches()
    yield
    clear_caches()


def _router():
    rules = (
        RuleSpec(
            1,
            "Billing",
            "semantic",
            "fake/billing",
            examples=("refund my order", "I was charged twice", "cancel my invoice"),
            threshold=0.3,
        ),
    )
    models = {ref: ModelInfo(ref, ref, 128_000, True) for ref in ("fake/main", "fake/billing")}
    return compile_router(RouterSpec(1, "fake/main", rules=rules, models=models))


def _embedder(fake_upstream) -> SemanticEmbedder:
    c = candidate(fake_upstream, "emb-fake", kind="openai_compatible")
    return SemanticEmbedder("router-1", EmbeddingTarget(c.ref, c.model_id, c.config))


async def _route(embedder: SemanticEmbedder, text: str):
    router = _router()
    inp = RouteInput(text, now=datetime(2026, 3, 11, 12, tzinfo=UTC))
    evaluation = evaluate(router, inp)
    assert evaluation.needs_embedding
    semantic = await embedder(router, inp)
    return decide(router, evaluate(router, inp, semantic=semantic), inp=inp), semantic


async def test_an_embedding_slower_than_its_timeout_skips_the_rule_with_the_reason(
    fake_upstream, clock
):
    fake_upstream.script(model="emb-fake", delay_first_byte=60)

    decision, semantic = await _route(_embedder(fake_upstream), "I want a refund for my order")

    assert decision.source == "primary" and decision.model == "fake/main"
    assert "semantic rules skipped: openai_compatible/emb-fake did not answer within 5 s" in (
        decision.reason
    )
    assert decision.verdicts[0].status == "skipped"
    # One timeout and its one retry, in virtual time: the test waited for neither.
    assert clock.fired == [5.0, 5.0]
    assert sent_to(fake_upstream, "emb-fake") == 2
    assert semantic.latency_ms == pytest.approx(10_000)


async def test_an_embedding_slower_than_usual_but_inside_its_timeout_still_routes(
    fake_upstream, clock
):
    fake_upstream.script(model="emb-fake", delay_first_byte=2, times=1)

    decision, semantic = await _route(_embedder(fake_upstream), "I want a refund for my order")

    assert decision.rule_name == "Billing"
    assert clock.fired == []
    assert semantic.latency_ms == pytest.approx(2_000)  # the wait, measured on the clock
