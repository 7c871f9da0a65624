"""Tiers and categories in the rule builder: the tier table, rules sending to a tier, the
categories list, the test panel, the workspace's tier, and the JSON API's tier endpoints."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.tokens import api_token_create
from audit.models import AuditEntry
from chat.models import Workspace
from routers import services
from routers.models import Rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def router(make_router):
    return make_router(slug="tiered")


def _tiers_post(**overrides):
    data = {
        "tier_was": ["balanced", "smart", "coding", "deep", ""],
        "tier_name": ["balanced", "smart", "coding", "deep", ""],
        "tier_model": ["demo/small", "", "demo/coder", "demo/large", ""],
        "tier_fallback": ["", "balanced", "smart", "smart", ""],
        "tier_description": ["", "", "", "", ""],
        "default_tier": "balanced",
        "escalation": "on",
    }
    data.update(overrides)
    return data


def test_the_router_page_shows_the_tier_table_and_categories(client_for, router):
    html = client_for(router.owner).get(reverse("router_detail", args=[router.pk])).content.decode()
    assert 'id="tiers"' in html and 'name="tier_name" value="coding"' in html
    assert "chat, code, translation, multimodal, research, math, creative" in html
    assert '<option value="tier:coding">' not in html  # the rule form is not open yet


def test_saving_the_tier_table_binds_models_and_sets_the_default(client_for, router):
    response = client_for(router.owner).post(
        reverse("router_tiers", args=[router.pk]), _tiers_post()
    )
    assert response.status_code == 302 and response["Location"].endswith("#tiers")
    router.refresh_from_db()
    assert [(t["name"], t["model"]) for t in router.tiers][:3] == [
        ("balanced", "demo/small"),
        ("smart", ""),
        ("coding", "demo/coder"),
    ]
    assert router.default_tier == "balanced" and router.escalation
    assert AuditEntry.objects.filter(action="router.update", object_id=str(router.pk)).exists()


def test_renaming_a_tier_carries_its_rules_and_workspaces_along(client_for, router, owner):
    rule = services.rule_create(
        router=router, name="Code", kind="calculated", target_tier="coding", actor=owner,
        conditions=[{"property": "keywords", "operator": "contains_any", "value": ["python"]}],
    )  # fmt: skip
    workspace = Workspace.objects.create(
        name="W", owner=owner, mode="router", router=router, tier="coding"
    )
    post = _tiers_post(tier_name=["balanced", "smart", "code", "deep", ""])
    version = router.version
    assert (
        client_for(owner).post(reverse("router_tiers", args=[router.pk]), post).status_code == 302
    )
    rule.refresh_from_db()
    workspace.refresh_from_db()
    router.refresh_from_db()
    assert rule.target_tier == "code" and workspace.tier == "code"
    assert [t["fallback"] for t in router.tiers] == ["", "balanced", "smart", "smart"]
    assert router.version > version


def test_a_tier_a_rule_sends_to_cannot_be_removed(client_for, router, owner):
    services.rule_create(
        router=router, name="Code", kind="calculated", target_tier="coding", actor=owner,
        conditions=[{"property": "keywords", "operator": "contains_any", "value": ["python"]}],
    )  # fmt: skip
    post = _tiers_post(tier_name=["balanced", "smart", "", "deep", ""])
    response = client_for(owner).post(reverse("router_tiers", args=[router.pk]), post)
    assert response.status_code == 422
    assert "Rule “Code” sends to the tier &#x27;coding&#x27;" in response.content.decode()
    router.refresh_from_db()
    assert "coding" in [t["name"] for t in router.tiers]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tier_fallback": ["deep", "balanced", "smart", "smart", ""]}, "go round in a circle"),
        ({"tier_name": ["balanced", "Smart!", "coding", "deep", ""]}, "is not a tier name"),
        ({"tier_model": ["nope/model", "", "", "", ""]}, "unknown model"),
        ({"default_tier": "huge"}, "Default tier"),
    ],
)
def test_bad_tier_tables_are_refused_and_change_nothing(client_for, router, overrides, message):
    before = router.tiers
    response = client_for(router.owner).post(
        reverse("router_tiers", args=[router.pk]), _tiers_post(**overrides)
    )
    assert response.status_code == 422 and message in response.content.decode()
    router.refresh_from_db()
    assert router.tiers == before


def test_adding_a_tier_in_the_blank_row(client_for, router):
    post = _tiers_post(
        tier_was=["balanced", "smart", "coding", "deep", ""],
        tier_name=["balanced", "smart", "coding", "deep", "vision"],
        tier_model=["demo/small", "", "demo/coder", "demo/large", "demo/large"],
        tier_fallback=["", "balanced", "smart", "smart", "balanced"],
    )
    assert (
        client_for(router.owner).post(reverse("router_tiers", args=[router.pk]), post).status_code
        == 302
    )
    router.refresh_from_db()
    assert router.tiers[-1] == {
        "name": "vision", "model": "demo/large", "fallback": "balanced", "description": "",
    }  # fmt: skip


def test_only_editors_may_change_tiers(client_for, router, teammate):
    response = client_for(teammate).post(reverse("router_tiers", args=[router.pk]), _tiers_post())
    assert response.status_code in (403, 404)


def test_categories_are_edited_and_a_used_one_cannot_be_removed(client_for, router, owner):
    client = client_for(owner)
    url = reverse("router_categories", args=[router.pk])
    assert client.post(url, {"categories": "chat, code, Legal"}).status_code == 302
    router.refresh_from_db()
    assert router.categories == ["chat", "code", "legal"]
    services.rule_create(
        router=router, name="Law", kind="calculated", target_model="demo/large", actor=owner,
        conditions=[{"property": "category", "operator": "eq", "value": "legal"}],
    )  # fmt: skip
    response = client.post(url, {"categories": "chat, code"})
    assert response.status_code == 422
    assert "Rule “Law” tests the category" in response.content.decode()


def test_the_rule_form_offers_tiers_and_saves_a_tier_target(client_for, router, owner):
    client = client_for(owner)
    form = client.get(reverse("rule_create", args=[router.pk]), HTTP_HX_REQUEST="true")
    assert '<option value="tier:coding">tier coding · unset</option>' in form.content.decode()
    response = client.post(
        reverse("rule_create", args=[router.pk]),
        {
            "name": "Code", "kind": "calculated", "match": "all", "target_model": "tier:coding",
            "fallbacks": "", "description": "", "cond": ["a"], "cond-a-property": "category",
            "cond-a-operator": "eq", "cond-a-text": "code",
        },
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    assert response.status_code in (200, 204, 302), response.content.decode()[:500]
    rule = Rule.objects.get(router=router, name="Code")
    assert rule.target_tier == "coding" and rule.target_model is None
    page = client.get(reverse("router_detail", args=[router.pk])).content.decode()
    assert "tier coding" in page and "category = &quot;code&quot;" in page


def test_the_test_panel_shows_the_tier_and_the_judgement(client_for, router, owner):
    services.router_set_tiers(
        router=router,
        tiers=[{"name": "balanced", "model": "demo/small"}, {"name": "deep", "model": "demo/large", "fallback": "balanced"}],
        default_tier="balanced",
        actor=owner,
    )  # fmt: skip
    services.rule_create(
        router=router, name="Hard", kind="calculated", target_tier="deep", actor=owner,
        conditions=[{"property": "complexity", "operator": "eq", "value": "hard"}],
    )  # fmt: skip
    client = client_for(owner)
    url = reverse("router_test", args=[router.pk])
    html = client.post(url, {"message": "Design a distributed cache step by step"}).content.decode()
    assert "complexity <strong>hard</strong>" in html and "chosen by the rule" in html
    html = client.post(url, {"message": "hi", "tier": "deep"}).content.decode()
    assert "Tier asked for" in html and "you chose it" in html


def test_the_workspace_form_takes_a_tier_of_its_router(client_for, router, owner):
    client = client_for(owner)
    data = {"name": "Coders", "mode": "router", "router": router.pk, "tier": "coding", "tags": ""}
    response = client.post(reverse("workspace_create"), data)
    assert response.status_code == 302
    assert Workspace.objects.get(name="Coders").tier == "coding"
    data = {**data, "name": "Bad", "tier": "huge"}
    response = client.post(reverse("workspace_create"), data)
    assert (
        response.status_code == 200 and "is not a tier of the router" in response.content.decode()
    )


def test_the_json_api_sets_tiers_and_categories(router, owner):
    _, token = api_token_create(user=owner, name="tiers")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api.put(
        f"/api/routers/{router.pk}/tiers",
        {"tiers": [{"name": "balanced", "model": "demo/small"}], "default_tier": "balanced"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["tiers"][0]["model"] == "demo/small"
    response = api.put(
        f"/api/routers/{router.pk}/tiers",
        {"tiers": [{"name": "a", "fallback": "b"}]},
        content_type="application/json",
    )
    assert response.status_code == 422 and "not a tier" in response.content.decode()
    response = api.put(
        f"/api/routers/{router.pk}/categories", {"categories": []}, content_type="application/json"
    )
    assert response.status_code == 422
    response = api.post(
        f"/api/routers/{router.pk}/rules",
        {"name": "To tier", "kind": "llm", "description": "anything", "target_tier": "balanced"},
        content_type="application/json",
    )
    assert response.status_code == 201 and response.json()["target_tier"] == "balanced"
    assert response.json()["target_model"] is None
