"""Data policies on `/v1`, checked at the fake upstream: what reached which model."""

from __future__ import annotations

import json
from urllib.parse import unquote

import openai
import pytest

from decisions.models import RoutingDecision
from governance.models import Policy
from routers.versions import router_publish
from tests.api.conftest import wait_for

CARD = "4111 1111 1111 1111"


@pytest.fixture
def client(live_url, owner, token_for):
    return openai.OpenAI(
        base_url=f"{live_url}/v1", api_key=token_for(owner), max_retries=0, timeout=10
    )


@pytest.fixture
def legal_router(fake_router):
    """The fake router plus an LLM rule judged by its classifier (the primary, fake-small)."""
    from routers import services

    services.rule_create(
        router=fake_router,
        name="Legal",
        kind="llm",
        description="questions about contracts or law",
        target_model="fake/fake-large",
        actor=fake_router.owner,
    )
    fake_router.refresh_from_db()
    router_publish(router=fake_router, actor=fake_router.owner)
    return fake_router


def customer_data(**fields):
    fields.setdefault("approved", ["fake/fake-vision"])
    return Policy.objects.create(
        name="Customer data", detectors=["card", "iban"], action="restrict", **fields
    )


def bodies_to(fake_upstream, model):
    return [json.dumps(r.body) for r in fake_upstream.requests if r.model == model]


def sent_anywhere(fake_upstream):
    return " ".join(json.dumps(r.body) for r in fake_upstream.requests)


def test_a_card_number_never_reaches_an_unapproved_model_nor_its_classifier(
    client, legal_router, fake_upstream
):
    customer_data()
    raw = client.chat.completions.with_raw_response.create(
        model="router:fake-router",
        messages=[{"role": "user", "content": f"Is this contract legal? Card {CARD}"}],
    )
    completion = raw.parse()
    assert completion.model == "fake/fake-vision"
    assert bodies_to(fake_upstream, "fake-small") == [], "the classifier was not asked"
    assert bodies_to(fake_upstream, "fake-large") == []
    assert [r.model for r in fake_upstream.requests] == ["fake-vision"]
    policy_header = raw.headers["x-routerweb-policy"]
    assert "Customer data" in policy_header and "4111" not in policy_header
    logged = wait_for(
        lambda: RoutingDecision.objects.filter(uid=raw.headers["x-routerweb-decision"]).first()
    )
    assert 'policy "Customer data" (card number): approved models only' in logged.reason
    assert "4111" not in logged.reason and "4111" not in json.dumps(logged.verdicts)


def test_without_sensitive_data_the_router_and_its_classifier_work_as_usual(
    client, legal_router, fake_upstream
):
    customer_data()
    fake_upstream.script("fake-small", times=1, reply="r1")  # the classifier picks "Legal"
    completion = client.chat.completions.create(
        model="router:fake-router",
        messages=[{"role": "user", "content": "Is this contract legal? Order 1234567812345678"}],
    )
    assert completion.model == "fake/fake-large"
    assert [r.model for r in fake_upstream.requests] == ["fake-small", "fake-large"]


def test_a_model_named_directly_is_no_way_around_the_policy(client, fake_models, fake_upstream):
    customer_data()
    completion = client.chat.completions.create(
        model="fake/fake-large", messages=[{"role": "user", "content": f"charge {CARD}"}]
    )
    assert completion.model == "fake/fake-vision"
    assert bodies_to(fake_upstream, "fake-large") == []


def test_a_failing_approved_model_never_falls_back_to_an_unapproved_one(
    client, fake_router, fake_upstream
):
    customer_data(approved=["fake/fake-vision"])
    fake_upstream.script("fake-vision", status=503)
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(
            model="router:fake-router", messages=[{"role": "user", "content": f"pay {CARD}"}]
        )
    assert {r.model for r in fake_upstream.requests} == {"fake-vision"}


def test_a_router_scoped_policy_applies_only_to_its_router(
    client, fake_router, fake_models, fake_upstream
):
    customer_data(scope="router", router_id=fake_router.pk)
    direct = client.chat.completions.create(
        model="fake/fake-large", messages=[{"role": "user", "content": f"pay {CARD}"}]
    )
    assert direct.model == "fake/fake-large"
    routed = client.chat.completions.create(
        model="router:fake-router", messages=[{"role": "user", "content": f"pay {CARD}"}]
    )
    assert routed.model == "fake/fake-vision"


def test_masking_sends_the_masked_text_only(client, fake_router, fake_upstream):
    Policy.objects.create(name="Mask cards", detectors=["card"], action="mask")
    client.chat.completions.create(
        model="router:fake-router",
        messages=[
            {"role": "user", "content": f"my card {CARD}"},
            {"role": "assistant", "content": "noted"},
            {"role": "user", "content": "and again 4111111111111111 please"},
        ],
    )
    sent = sent_anywhere(fake_upstream)
    assert "4111" not in sent
    assert sent.count("[card number]") == 2


def test_a_refusing_policy_answers_400_in_openais_shape_and_calls_no_model(
    client, fake_router, fake_upstream
):
    Policy.objects.create(name="No secrets", detectors=["secret"], action="refuse")
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="router:fake-router",
            messages=[{"role": "user", "content": "deploy with AKIAIOSFODNN7EXAMPLE"}],
        )
    error = caught.value.body
    assert error["code"] == "policy_refused"
    assert 'Refused by policy "No secrets"' in error["message"]
    assert "AKIA" not in error["message"]
    assert fake_upstream.requests == []
    # Logged as the chat logs a refused message: the policy's name, never what it found.
    decision = wait_for(lambda: RoutingDecision.objects.filter(channel="api").first())
    assert decision.policy == "No secrets"
    assert decision.policy_action == "refuse"
    assert not decision.succeeded
    assert decision.attempts == []
    assert "AKIA" not in json.dumps(
        [decision.reason, decision.verdicts, decision.rule_name, decision.model_ref]
    )


def test_an_unapproved_embedding_model_never_sees_the_card(
    client, owner, fake_models, fake_upstream
):
    from providers.models import CatalogModel
    from routers import services
    from routers.semantic import clear_caches

    clear_caches()
    CatalogModel.objects.create(
        provider=fake_models["fake-small"].provider,
        model_id="emb-fake",
        display_name="Fake embeddings",
        context_window=8192,
    )
    router = services.router_create(
        owner=owner,
        name="Semantic",
        slug="semantic",
        primary_model="fake/fake-small",
        embedding_model="fake/emb-fake",
        actor=owner,
    )
    services.rule_create(
        router=router,
        name="Billing",
        kind="semantic",
        examples=["refund my order", "charged twice on my card"],
        threshold=0.5,
        target_model="fake/fake-large",
        actor=router.owner,
    )
    router_publish(router=router, actor=owner)
    customer_data(approved=["fake/fake-small"])
    completion = client.chat.completions.create(
        model="router:semantic", messages=[{"role": "user", "content": f"refund {CARD}"}]
    )
    assert completion.model == "fake/fake-small"
    assert [r.model for r in fake_upstream.requests] == ["fake-small"], "no embeddings call"
    clear_caches()


def test_the_policy_header_is_percent_encoded_utf8(client, fake_router, fake_upstream):
    Policy.objects.create(
        name="100% données", detectors=["card"], action="restrict", approved=["fake/fake-vision"]
    )
    raw = client.chat.completions.with_raw_response.create(
        model="router:fake-router",
        messages=[{"role": "user", "content": f"Card {CARD} and {CARD}"}],
    )
    header = raw.headers["x-routerweb-policy"]
    assert header == ('policy "100%25 donn%C3%A9es" (card number %C3%972): approved models only')
    assert unquote(header) == 'policy "100% données" (card number ×2): approved models only'
