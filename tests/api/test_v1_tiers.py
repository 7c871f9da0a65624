"""Tiers and category × complexity through `/v1` against the fake upstream: the model name
`router:<slug>/<tier>` selects a tier, an unknown tier is a clear 400, and a category ×
complexity router makes at most one classifier call per message (counted upstream)."""

from __future__ import annotations

import json

import openai
import pytest

from decisions.models import RoutingDecision
from routers import services
from routers.versions import router_publish
from tests.api.conftest import wait_for


@pytest.fixture
def client(live_url, owner, token_for):
    return openai.OpenAI(
        base_url=f"{live_url}/v1", api_key=token_for(owner), max_retries=0, timeout=10
    )


@pytest.fixture
def tiered(fake_router):
    services.router_set_tiers(
        router=fake_router,
        tiers=[
            {"name": "balanced", "model": "fake/fake-small"},
            {"name": "coding", "model": "fake/fake-large", "fallback": "balanced"},
            {"name": "deep", "model": "", "fallback": "coding"},
        ],
        default_tier="balanced",
        actor=fake_router.owner,
    )
    router_publish(router=fake_router, actor=fake_router.owner)
    return fake_router


def _models_called(fake_upstream) -> list[str]:
    return [r.body.get("model") for r in fake_upstream.requests_to("openai")]


def test_the_model_name_selects_a_tier(client, tiered, fake_upstream):
    completion = client.chat.completions.create(
        model="router:fake-router/coding", messages=[{"role": "user", "content": "hello"}]
    )
    assert completion.choices[0].message.content.startswith("Fake reply from fake-large")
    decision = wait_for(lambda: RoutingDecision.objects.filter(channel="api").first())
    assert (decision.tier, decision.tier_source, decision.source) == ("coding", "user", "tier")


def test_an_unset_tier_falls_back(client, tiered, fake_upstream):
    client.chat.completions.create(
        model="router:fake-router/deep", messages=[{"role": "user", "content": "hello"}]
    )
    assert _models_called(fake_upstream)[-1] == "fake-large"


def test_without_a_tier_the_rules_and_then_the_default_tier_decide(client, tiered, fake_upstream):
    client.chat.completions.create(
        model="router:fake-router", messages=[{"role": "user", "content": "my python traceback"}]
    )
    assert _models_called(fake_upstream)[-1] == "fake-large"  # rule "Code"
    client.chat.completions.create(
        model="router:fake-router", messages=[{"role": "user", "content": "hello"}]
    )
    assert _models_called(fake_upstream)[-1] == "fake-small"
    decision = wait_for(lambda: RoutingDecision.objects.filter(tier_source="default").first())
    assert decision.tier == "balanced"


def test_an_unknown_tier_is_a_400_in_openai_shape(client, tiered, fake_upstream):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="router:fake-router/huge", messages=[{"role": "user", "content": "hello"}]
        )
    error = caught.value.body
    assert error["code"] == "unknown_tier" and error["param"] == "model"
    assert "has no tier 'huge'" in error["message"]
    assert "balanced, coding, deep" in error["message"]
    assert fake_upstream.requests_to("openai") == []


@pytest.fixture
def category_router(owner, fake_models):
    router = services.router_create(
        owner=owner,
        name="Category router",
        slug="cats",
        primary_model="fake/fake-small",
        classifier_model="fake/fake-vision",
        actor=owner,
    )
    services.rule_create(
        router=router,
        name="Urgent",
        kind="calculated",
        conditions=[{"property": "keywords", "operator": "contains_any", "value": ["urgent"]}],
        target_model="fake/fake-small",
        actor=owner,
    )
    services.rule_create(
        router=router,
        name="Code",
        kind="calculated",
        conditions=[{"property": "category", "operator": "eq", "value": "code"}],
        target_model="fake/fake-large",
        actor=owner,
    )
    services.rule_create(
        router=router,
        name="Hard",
        kind="calculated",
        conditions=[{"property": "complexity", "operator": "gte", "value": "medium"}],
        target_model="fake/fake-large",
        actor=owner,
    )
    services.rule_create(
        router=router,
        name="Legal",
        kind="llm",
        description="contracts and law",
        target_model="fake/fake-large",
        actor=owner,
    )
    router_publish(router=router, actor=owner)
    return router


def _classifier_calls(fake_upstream) -> list[dict]:
    return [
        r.body for r in fake_upstream.requests_to("openai") if r.body.get("model") == "fake-vision"
    ]


@pytest.mark.parametrize(
    ("text", "judgement", "answered_by", "calls"),
    [
        (
            "fix my loop",
            {"rule": "none", "category": "code", "complexity": "simple"},
            "fake-large",
            1,
        ),
        ("hello", {"rule": "none", "category": "chat", "complexity": "hard"}, "fake-large", 1),
        ("hello", {"rule": "none", "category": "chat", "complexity": "simple"}, "fake-small", 1),
        ("a contract", {"rule": "r1", "category": "chat", "complexity": "simple"}, "fake-large", 1),
        ("urgent: hello", None, "fake-small", 0),
    ],
)
def test_a_category_complexity_router_makes_at_most_one_classifier_call(
    client, category_router, fake_upstream, text, judgement, answered_by, calls
):
    if judgement is not None:
        fake_upstream.script(model="fake-vision", times=1, reply=json.dumps(judgement))
    completion = client.chat.completions.create(
        model="router:cats", messages=[{"role": "user", "content": text}]
    )
    assert completion.choices[0].message.content.startswith(f"Fake reply from {answered_by}")
    sent = _classifier_calls(fake_upstream)
    assert len(sent) == calls
    if calls:
        schema = sent[0]["response_format"]["json_schema"]["schema"]
        # One structured answer holds the LLM rule, the category and the complexity.
        assert list(schema["properties"]) == ["rule", "category", "complexity"]
        limit = sent[0].get("max_completion_tokens") or sent[0].get("max_tokens")
        assert 0 < limit <= 40
    decision = wait_for(lambda: RoutingDecision.objects.filter(channel="api").first())
    if judgement is not None:
        assert decision.category == judgement["category"]
        assert decision.complexity == judgement["complexity"]
        assert decision.classifier_called
    else:
        assert decision.category == "" and not decision.classifier_called


def test_the_models_list_names_each_published_tier(client, tiered):
    ids = [m.id for m in client.models.list()]
    tiers = [i for i in ids if i.startswith("router:fake-router/")]
    assert tiers == ["router:fake-router/balanced", "router:fake-router/coding",
                     "router:fake-router/deep"]  # fmt: skip
    assert ids.index("router:fake-router") < ids.index(tiers[0])
    # A tier added to the draft is not listed until it is published.
    services.router_set_tiers(
        router=tiered,
        tiers=[*tiered.tiers, {"name": "draft-only", "model": "fake/fake-small"}],
        default_tier="balanced",
        actor=tiered.owner,
    )
    assert "router:fake-router/draft-only" not in [m.id for m in client.models.list()]
