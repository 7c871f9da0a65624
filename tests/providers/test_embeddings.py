"""Embedding through every adapter (official SDKs against the fake upstream) and the policy
around it: batches, one retry of a retryable failure, the breaker, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from providers.adapters.base import ProviderConfig, ProviderError
from providers.embeddings import EmbeddingFailed, EmbeddingTarget, aembed
from tests.fake_upstream.server import fake_embedding

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kind", ["openai", "openai_compatible", "gemini"])
async def test_each_sdk_embeds_a_batch_in_order(make_adapter, fake_upstream, kind):
    result = await make_adapter(kind).embed("emb-fake", ("refund my order", "python bug"))

    np.testing.assert_allclose(
        np.array(result.vectors),
        [fake_embedding("refund my order"), fake_embedding("python bug")],
        atol=1e-6,
    )
    recorded = fake_upstream.requests[-1]
    if kind == "gemini":
        assert recorded.path == "/v1beta/models/emb-fake:batchEmbedContents"
        assert result.estimated  # Gemini reports no tokens for embeddings
    else:
        assert recorded.path == "/v1/embeddings"
        assert recorded.body["input"] == ["refund my order", "python bug"]
        assert result.input_tokens == 5 and not result.estimated


async def test_anthropic_says_it_has_no_embedding_api(make_adapter):
    with pytest.raises(ProviderError, match="Anthropic has no embedding API") as caught:
        await make_adapter("anthropic").embed("claude", ("hello",))
    assert caught.value.kind == "bad_request" and not caught.value.retryable


async def test_the_demo_embeds_offline_and_similar_texts_score_higher(make_adapter):
    result = await make_adapter("demo", base_url="").embed(
        "embed", ("refund my order", "I want a refund for my order", "python stack trace")
    )
    a, b, c = (np.array(v) for v in result.vectors)
    assert a @ b > a @ c
    assert np.linalg.norm(a) == pytest.approx(1.0)


def _target(fake_upstream, kind: str = "openai_compatible", **config) -> EmbeddingTarget:
    return EmbeddingTarget(
        ref="fake/emb-fake",
        model_id="emb-fake",
        config=ProviderConfig(
            kind=kind,
            base_url=fake_upstream.base_url(kind),
            api_key="k",
            connect_timeout=10.0,  # never reached by the fake's answers, even under load
            read_timeout=10.0,
            **config,
        ),
    )


async def test_texts_go_in_batches_and_come_back_in_order(fake_upstream, settings):
    settings.EMBEDDING_BATCH_SIZE = 2
    texts = [f"text number {i}" for i in range(5)]

    matrix = await aembed(_target(fake_upstream), texts)

    assert matrix.shape == (5, 64)
    np.testing.assert_allclose(matrix, [fake_embedding(t) for t in texts], atol=1e-6)
    assert [len(r.body["input"]) for r in fake_upstream.requests] == [2, 2, 1]


async def test_a_retryable_failure_is_retried_once(fake_upstream):
    fake_upstream.script(status=503, times=1)

    matrix = await aembed(_target(fake_upstream), ["hello"])

    assert matrix.shape == (1, 64)
    assert len(fake_upstream.requests) == 2


async def test_a_bad_request_is_not_retried_and_says_why(fake_upstream):
    fake_upstream.script(status=400)

    with pytest.raises(EmbeddingFailed, match=r"fake/emb-fake failed: bad_request"):
        await aembed(_target(fake_upstream), ["hello"])
    assert len(fake_upstream.requests) == 1


async def test_a_model_that_keeps_failing_is_paused_by_the_breaker(fake_upstream, settings):
    settings.BREAKER_FAILURE_THRESHOLD = 2
    fake_upstream.script(status=500)
    target = _target(fake_upstream)
    for _ in range(2):
        with pytest.raises(EmbeddingFailed, match="unavailable"):
            await aembed(target, ["hello"])
    calls = len(fake_upstream.requests)

    with pytest.raises(EmbeddingFailed, match="failed repeatedly and is paused"):
        await aembed(target, ["hello"])
    assert len(fake_upstream.requests) == calls  # not called while open


async def test_vectors_of_the_wrong_size_are_refused(fake_upstream):
    target = _target(fake_upstream)
    wrong = EmbeddingTarget(target.ref, target.model_id, target.config, dimensions=384)

    with pytest.raises(EmbeddingFailed, match="64 dimensions, the catalog says 384"):
        await aembed(wrong, ["hello"])
