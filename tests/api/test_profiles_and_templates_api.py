"""The JSON API for profiles (catalog family/size class, rules targeting a profile, the
router's preferred families), workspace types and router templates: schemas, 4xx, no 500."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from providers.models import Provider
from routers.models import Router, Rule
from tests.api.test_json_api import api, api_as  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(api_as, admin_user):  # noqa: F811
    return api_as(admin_user)


def test_catalog_models_carry_family_and_size_class(admin_api, demo_catalog):
    provider = Provider.objects.get(slug="demo")
    listed = admin_api.get(f"/providers/{provider.pk}/models").json()
    small = next(m for m in listed if m["model_id"] == "small")
    assert (small["family"], small["size_class"]) == ("demo", "small")
    created = admin_api.post(
        f"/providers/{provider.pk}/models",
        {"model_id": "mini", "family": "Llama", "size_class": "small"},
    )
    assert created.status_code == 201
    assert (created.json()["family"], created.json()["size_class"]) == ("llama", "small")
    bad = admin_api.post(
        f"/providers/{provider.pk}/models", {"model_id": "x", "family": "has space"}
    )
    assert bad.status_code == 422 and "lower-case" in bad.content.decode()
    assert admin_api.post(
        f"/providers/{provider.pk}/models", {"model_id": "y", "size_class": "huge"}
    ).status_code in (400, 422)
    patched = admin_api.patch(
        f"/providers/{provider.pk}/models/{created.json()['id']}", {"size_class": "medium"}
    )
    assert patched.json()["size_class"] == "medium"
    entry = AuditEntry.objects.filter(action="catalog_model.update").latest("pk")
    assert "size_class" in entry.changes


def test_a_rule_may_target_a_profile_and_the_router_prefers_families(api, demo_catalog):  # noqa: F811
    router = api.post(
        "/routers",
        {"name": "P", "slug": "p", "primary_model": "demo/small", "preferred_families": ["Demo"]},
    ).json()
    assert router["preferred_families"] == ["demo"]
    rule = api.post(
        f"/routers/{router['id']}/rules",
        {
            "name": "Code",
            "kind": "calculated",
            "target_profile": "code",
            "conditions": [{"property": "has_code", "operator": "is_true"}],
        },
    )
    assert rule.status_code == 201, rule.content
    assert rule.json()["target_profile"] == "code" and rule.json()["target_model"] is None
    dry = api.post(f"/routers/{router['id']}/dry-run", {"message": "```py\nprint(1)\n```"}).json()
    assert dry["model"] == "demo/coder"
    assert dry["profile"]["name"] == "code"
    assert dry["profile"]["score"].startswith("family demo (preferred #1)")
    # Back to a model: sending one drops the profile.
    patched = api.patch(
        f"/routers/{router['id']}/rules/{rule.json()['id']}", {"target_model": "demo/large"}
    ).json()
    assert (patched["target_model"], patched["target_profile"]) == ("demo/large", "")


def test_bad_profile_input_is_a_422_and_changes_nothing(api, demo_catalog):  # noqa: F811
    router = api.post("/routers", {"name": "P", "slug": "p", "primary_model": "demo/small"}).json()
    unknown = api.post(
        f"/routers/{router['id']}/rules",
        {
            "name": "X",
            "kind": "calculated",
            "target_profile": "nope",
            "conditions": [{"property": "has_code", "operator": "is_true"}],
        },
    )
    assert unknown.status_code == 422 and "Unknown profile 'nope'" in unknown.content.decode()
    neither = api.post(
        f"/routers/{router['id']}/rules",
        {
            "name": "X",
            "kind": "calculated",
            "conditions": [{"property": "has_code", "operator": "is_true"}],
        },
    )
    assert neither.status_code == 422
    families = api.patch(f"/routers/{router['id']}", {"preferred_families": ["ok", "not ok"]})
    assert families.status_code == 422 and "Preferred family" in families.content.decode()
    assert not Rule.objects.exists()
    assert Router.objects.get().preferred_families == []


def test_a_workspace_has_a_type_rules_can_test(api, demo_catalog):  # noqa: F811
    created = api.post(
        "/workspaces", {"name": "Dev", "model": "demo/small", "workspace_type": "coding"}
    )
    assert created.status_code == 201 and created.json()["workspace_type"] == "coding"
    bad = api.post("/workspaces", {"name": "Dev", "model": "demo/small", "workspace_type": "x"})
    assert bad.status_code in (400, 422)


def test_templates_are_listed_bound_to_the_catalog_with_their_examples(api, demo_catalog):  # noqa: F811
    listed = api.get("/routers/templates").json()
    assert [t["name"] for t in listed] == [
        "keywords-llm",
        "profiles",
        "hybrid",
        "tiers",
        "category-complexity",
    ]
    hybrid = api.get("/routers/templates/hybrid").json()
    roles = {r["role"]: r for r in hybrid["roles"]}
    assert roles["small"]["model"] == "demo/small"
    assert "cheapest small model" in roles["small"]["why"]
    assert hybrid["embedding_model"] == "demo/embed"
    assert {e["model"] for e in hybrid["examples"]} == {"demo/small", "demo/coder", "demo/large"}
    assert api.get("/routers/templates/nope").status_code == 404


def test_a_router_is_created_from_a_template_with_clear_4xx_for_bad_input(api, demo_catalog):  # noqa: F811
    created = api.post("/routers/templates/keywords-llm", {"slug": "simple"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["slug"] == "simple" and body["primary_model"] == "demo/small"
    assert [r["name"] for r in body["rules"]] == ["Code", "Hard questions"]
    assert api.post("/routers/templates/keywords-llm", {"slug": "simple"}).status_code == 422
    assert api.post("/routers/templates/keywords-llm", {"slug": "bad slug"}).status_code in (
        400,
        422,
    )
    assert api.post("/routers/templates/keywords-llm", {"colour": "red"}).status_code in (400, 422)
    assert api.post("/routers/templates/nope", {}).status_code == 404
    assert Router.objects.count() == 1
    again = api.post("/routers/templates/keywords-llm", {}).json()
    assert again["slug"] == "keywords-llm"


def test_the_tiers_template_binds_each_tier_and_lists_a_tier_asked_for(api, demo_catalog):  # noqa: F811
    tiers = api.get("/routers/templates/tiers").json()
    assert {t["tier"]: t["model"] for t in tiers["tiers"]} == {
        "balanced": "demo/small",
        "smart": "demo/coder",
        "coding": "demo/coder",
        "deep": "demo/large",
    }
    assert (tiers["default_tier"], tiers["escalation"]) == ("balanced", True)
    asked = [e for e in tiers["examples"] if e["user_tier"]]
    assert asked and asked[0]["model"] == "demo/coder"
    created = api.post("/routers/templates/tiers", {"slug": "teams"}).json()
    assert [r["target_tier"] for r in created["rules"]] == ["coding", "deep"]
