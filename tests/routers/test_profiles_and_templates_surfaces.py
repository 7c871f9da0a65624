"""Profiles and templates on the other surfaces: the new-router page and template pages, the
builder's "Send to", the test panel, import/export, Django admin profiles, the command and the
demo seed."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from audit.models import AuditEntry
from chat.models import Workspace
from routers import services
from routers.compiling import compiled_router_for
from routers.models import Profile, Router, Rule
from routers.versions import router_publish, router_published

pytestmark = pytest.mark.django_db


def test_the_new_router_page_offers_every_template(client_for, owner, demo_catalog):
    page = client_for(owner).get(reverse("router_create")).content.decode()
    for name in ("keywords-llm", "profiles", "hybrid", "tiers", "category-complexity"):
        assert f'data-template="{name}"' in page
    assert "Keywords and an LLM judge" in page and "Or start empty" in page


def test_a_template_page_shows_its_bindings_and_examples_and_creates_the_router(
    client_for, owner, demo_catalog
):
    client = client_for(owner)
    url = reverse("router_template", args=["hybrid"])
    page = client.get(url).content.decode()
    assert "Template: Hybrid" in page
    assert "the cheapest small model" in page and "demo/embed" in page
    assert "hello there!" in page and "fast signal: a greeting" in page
    assert "a ~9,000-token report" in page  # the long document is labelled, not printed
    response = client.post(url, {"slug": "mine", "name": "", "visibility": "private"})
    router = Router.objects.get(slug="mine")
    assert response.status_code == 302 and response.url == reverse(
        "router_detail", args=[router.pk]
    )
    assert router.name == "Hybrid" and router.rules.count() == 8
    taken = client.post(url, {"slug": "mine", "visibility": "private"})
    assert taken.status_code == 422 and "already used" in taken.content.decode()
    assert client.get(reverse("router_template", args=["nope"])).status_code == 404
    assert Router.objects.count() == 1


def test_the_builder_targets_a_profile_and_the_test_panel_explains_the_choice(
    client_for, owner, demo_catalog
):
    router = services.router_create(
        owner=owner, actor=owner, name="R", slug="r", primary_model="demo/small"
    )
    client = client_for(owner)
    page = client.get(reverse("rule_create", args=[router.pk])).content.decode()
    assert 'value="profile:creative"' in page
    client.post(
        reverse("rule_create", args=[router.pk]),
        {
            "name": "Writing",
            "kind": "calculated",
            "match": "all",
            "target_model": "profile:creative",
            "cond": "a1",
            "cond-a1-property": "keywords",
            "cond-a1-operator": "contains_any",
            "cond-a1-text": "poem",
        },
    )
    rule = Rule.objects.get()
    assert (rule.target_profile, rule.target_model) == ("creative", None)
    detail = client.get(reverse("router_detail", args=[router.pk])).content.decode()
    assert "profile “creative”" in detail
    result = client.post(
        reverse("router_test", args=[router.pk]),
        {"message": "a poem please"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "data-profile-result" in result
    assert (
        "Chose <code>demo/large</code>: family demo (not preferred), $18.00 per 1M in + out"
        in result
    )
    edit = client.get(reverse("rule_edit", args=[router.pk, rule.pk])).content.decode()
    assert 'value="profile:creative" selected' in edit


def test_the_test_panel_routes_as_if_in_a_workspace_of_a_type(client_for, owner, demo_catalog):
    router = services.router_create(
        owner=owner, actor=owner, name="R", slug="r", primary_model="demo/small"
    )
    services.rule_create(
        router=router,
        actor=owner,
        name="Coding",
        kind="calculated",
        conditions=[{"property": "workspace_type", "operator": "eq", "value": "coding"}],
        target_model="demo/coder",
    )
    result = client_for(owner).post(
        reverse("router_test", args=[router.pk]),
        {"message": "hi", "workspace_type": "coding"},
        HTTP_HX_REQUEST="true",
    )
    assert "demo/coder" in result.content.decode()


def test_profile_rules_and_preferred_families_survive_export_and_import(owner, demo_catalog):
    router = services.router_create(
        owner=owner,
        actor=owner,
        name="R",
        slug="r",
        primary_model="demo/small",
        preferred_families=["claude", "demo"],
    )
    services.rule_create(
        router=router,
        actor=owner,
        name="Fast",
        kind="calculated",
        conditions=[{"property": "message_tokens", "operator": "lte", "value": 10}],
        target_profile="fast",
    )
    exported = services.router_export(router=router)
    assert exported["router"]["preferred_families"] == ["claude", "demo"]
    assert exported["router"]["rules"][0]["target_profile"] == "fast"
    assert "target_model" not in exported["router"]["rules"][0]
    copy = services.router_import(owner=owner, data=json.loads(json.dumps(exported)))
    assert copy.preferred_families == ["claude", "demo"]
    assert copy.rules.get().target_profile == "fast"
    assert services.router_export(router=copy)["router"]["rules"] == exported["router"]["rules"]


def test_import_errors_for_profiles_are_located_and_old_files_still_import(owner, demo_catalog):
    from django.core.exceptions import ValidationError

    doc = {
        "format": "routerweb.router",
        "version": 1,
        "router": {
            "name": "Old",
            "primary_model": "demo/small",
            "rules": [
                {
                    "name": "Code",
                    "kind": "calculated",
                    "conditions": [{"property": "has_code", "operator": "is_true"}],
                    "target_model": "demo/coder",
                }
            ],
        },
    }
    assert (
        services.router_import(owner=owner, data=doc).rules.get().target_model.ref == "demo/coder"
    )
    doc["router"]["rules"][0]["target_profile"] = "code"
    with pytest.raises(ValidationError, match="not both"):
        services.router_import(owner=owner, data=doc)
    del doc["router"]["rules"][0]["target_model"]
    doc["router"]["rules"][0]["target_profile"] = "ghost"
    with pytest.raises(ValidationError, match="rule 1 “Code”, target_profile: unknown profile"):
        services.router_import(owner=owner, data=doc)
    assert Router.objects.count() == 1


def test_an_admin_defined_profile_is_usable_and_an_edit_reaches_published_routers_at_once(
    client_for, admin_user, owner, demo_catalog
):
    client = client_for(admin_user)
    response = client.post(
        reverse("admin:routers_profile_add"),
        {"name": "Vision", "description": "", "size_classes": [], "needs_images": "on",
         "min_context": "0", "max_price": ""},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    profile = Profile.objects.get()
    assert profile.name == "vision"
    assert AuditEntry.objects.filter(action="profile.create").exists()
    router = services.router_create(
        owner=owner, actor=owner, name="R", slug="r", primary_model="demo/small"
    )
    services.rule_create(
        router=router,
        actor=owner,
        name="Everything",
        kind="calculated",
        conditions=[{"property": "message_chars", "operator": "gte", "value": 0}],
        target_profile="vision",
    )
    router_publish(router=router, actor=owner)
    live = router_published(Router.objects.get(pk=router.pk))
    assert compiled_router_for(live).profiles["vision"].chain == ("demo/large",)
    bad = client.post(
        reverse("admin:routers_profile_change", args=[profile.pk]),
        {"name": "vision", "size_classes": ["huge"], "min_context": "0", "max_price": ""},
    )
    assert bad.status_code == 200  # the form again, with the error
    client.post(
        reverse("admin:routers_profile_change", args=[profile.pk]),
        {"name": "vision", "size_classes": ["small", "medium"], "min_context": "1000",
         "max_price": "10"},
    )  # fmt: skip
    profile.refresh_from_db()
    assert profile.max_price == Decimal("10") and profile.size_classes == ["small", "medium"]
    # The same published version, the new definition: no stale compiled router is served.
    live = router_published(Router.objects.get(pk=router.pk))
    assert compiled_router_for(live).profiles["vision"].chain == ("demo/small", "demo/coder")


def test_the_command_lists_templates_and_creates_one(owner, demo_catalog):
    out = io.StringIO()
    call_command("router_template", "list", stdout=out)
    text = out.getvalue()
    assert "hybrid: Hybrid" in text and "role small: demo/small" in text
    assert "“hello there!” → demo/small" in text
    out = io.StringIO()
    call_command("router_template", "list", "--json", stdout=out)
    assert [t["name"] for t in json.loads(out.getvalue())] == [
        "keywords-llm",
        "profiles",
        "hybrid",
        "tiers",
        "category-complexity",
    ]
    out = io.StringIO()
    call_command(
        "router_template", "create", "profiles", "--slug", "team-prof", "--owner", owner.username,
        stdout=out,
    )  # fmt: skip
    assert "router:team-prof" in out.getvalue()
    assert Router.objects.get(slug="team-prof").owner == owner
    with pytest.raises(CommandError, match="Unknown template"):
        call_command("router_template", "create", "nope", "--owner", owner.username)
    with pytest.raises(CommandError, match="No user"):
        call_command("router_template", "create", "profiles", "--owner", "ghost")
    with pytest.raises(CommandError, match="already used"):
        call_command(
            "router_template",
            "create",
            "profiles",
            "--slug",
            "team-prof",
            "--owner",
            owner.username,
        )


def test_the_demo_seed_has_one_shared_router_per_template_on_the_demo_models():
    call_command("seed_demo", "--owner", "admin", stdout=io.StringIO())
    call_command("seed_demo", "--owner", "admin", stdout=io.StringIO())  # idempotent
    for slug in (
        "demo-keywords-llm",
        "demo-profiles",
        "demo-hybrid",
        "demo-tiers",
        "demo-category-complexity",
    ):
        router = Router.objects.get(slug=slug)
        assert router.visibility == "shared"
        refs = {r.target_model.ref for r in router.rules.all() if r.target_model}
        assert all(ref.startswith("demo/") for ref in refs | {router.primary_model.ref})
    assert Router.objects.get(slug="demo-hybrid").embedding_model == "demo/embed"
    tiers = Router.objects.get(slug="demo-tiers")
    assert {t["name"]: t["model"] for t in tiers.tiers} == {
        "balanced": "demo/small",
        "smart": "demo/coder",
        "coding": "demo/coder",
        "deep": "demo/large",
    }
    assert (tiers.default_tier, tiers.escalation) == ("balanced", True)
    assert Workspace.objects.filter(name="Demo: Model Router").exists()


def test_the_workspace_form_sets_the_type_rules_test(client_for, owner, demo_catalog):
    client = client_for(owner)
    response = client.post(
        reverse("workspace_create"),
        {"name": "Dev", "mode": "model", "model": demo_catalog["small"].pk,
         "workspace_type": "coding", "tags": "Legal, eu"},
    )  # fmt: skip
    assert response.status_code == 302
    workspace = Workspace.objects.get(name="Dev")
    assert (workspace.workspace_type, workspace.tags) == ("coding", ["legal", "eu"])
    form = client.get(reverse("workspace_edit", args=[workspace.pk])).content.decode()
    assert '<option value="coding" selected>' in form


def test_the_catalog_form_sets_family_and_size_class_and_the_provider_page_shows_them(
    client_for, admin_user, demo_catalog
):
    client = client_for(admin_user)
    provider = demo_catalog["small"].provider
    page = client.get(reverse("provider_edit", args=[provider.pk])).content.decode()
    assert "demo · small" in page and "demo · large" in page
    url = reverse("catalog_model_edit", args=[provider.pk, demo_catalog["coder"].pk])
    form = client.get(url).content.decode()
    assert 'name="family"' in form and 'name="size_class"' in form
    data = {
        "model_id": "coder", "display_name": "Coder", "context_window": "64000",
        "input_price_per_m": "1", "output_price_per_m": "4", "enabled": "on", "kind": "chat",
        "family": "Qwen", "size_class": "large",
    }  # fmt: skip
    assert client.post(url, data).status_code == 302
    demo_catalog["coder"].refresh_from_db()
    assert (demo_catalog["coder"].family, demo_catalog["coder"].size_class) == ("qwen", "large")
    bad = client.post(url, {**data, "family": "two words"})
    assert bad.status_code in (200, 422) and "lower-case letters" in bad.content.decode()
