"""Router templates on a fresh install's demo catalog: bound by capability and price, created as
ordinary routers, and routing their example messages where their design promises."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from planning.planner import panel_request, plan_sync
from routers.models import Router
from routers.router_templates import (
    TEMPLATES,
    router_create_from_template,
    template_plan,
)
from routers.services import router_export

# What each template's examples reach on the demo catalog (small, coder = medium, large).
EXPECTED_DEMO_MODELS = {
    "keywords-llm": ["demo/coder", "demo/large", "demo/small"],
    "profiles": ["demo/coder", "demo/large", "demo/small", "demo/coder"],
    "hybrid": [
        "demo/coder",
        "demo/large",
        "demo/coder",
        "demo/small",
        "demo/large",
        "demo/small",
        "demo/small",
        "demo/large",
        "demo/coder",
    ],
    "tiers": ["demo/coder", "demo/large", "demo/small", "demo/large", "demo/coder"],
    "category-complexity": [
        "demo/coder",
        "demo/small",
        "demo/large",
        "demo/large",
        "demo/coder",
        "demo/small",
    ],
}


def test_every_template_promises_a_model_for_every_example_on_the_demo_catalog(demo_catalog):
    for name, template in TEMPLATES.items():
        plan = template_plan(template)
        assert plan.can_create, (name, plan.warnings)
        assert [e.model for e in plan.examples] == EXPECTED_DEMO_MODELS[name], name


def test_roles_are_bound_by_capability_and_price_and_say_why(demo_catalog):
    plan = template_plan(TEMPLATES["hybrid"])
    small, large = plan.bindings["small"], plan.bindings["large"]
    assert small.model == "demo/small"
    assert small.why == "the cheapest small model: $0.75 per 1M in + out"
    assert large.model == "demo/large"
    assert large.why.startswith("the cheapest large model (accepts images)")
    assert plan.embedding_model == "demo/embed"
    assert plan.warnings == []


def test_a_role_without_its_size_class_gets_a_stand_in_and_a_warning(demo_catalog):
    demo_catalog["small"].enabled = False
    demo_catalog["small"].save()
    plan = template_plan(TEMPLATES["keywords-llm"])
    assert plan.bindings["small"].model == "demo/coder"
    assert any(
        "No small model" in w and "demo/coder (medium) stands in" in w for w in plan.warnings
    )


def test_a_role_no_model_can_fill_is_refused_with_the_reason(owner, demo_catalog):
    demo_catalog["large"].supports_images = False
    demo_catalog["large"].save()
    plan = template_plan(TEMPLATES["keywords-llm"])
    assert plan.bindings["large"].model is None
    assert not plan.can_create
    with pytest.raises(ValidationError, match="No model in the catalog suits “large”"):
        router_create_from_template(owner=owner, template="keywords-llm")
    assert not Router.objects.exists()


def test_the_profiles_template_prefers_the_catalogs_known_families_first(owner, demo_catalog):
    from providers.models import CatalogModel

    other = CatalogModel.objects.create(
        provider=demo_catalog["small"].provider,
        model_id="mini-claude",
        display_name="Mini",
        context_window=100_000,
        input_price_per_m=Decimal("5"),
        output_price_per_m=Decimal("5"),
        family="claude",
        size_class="small",
    )
    plan = template_plan(TEMPLATES["profiles"])
    assert plan.preferred_families == ("claude", "demo")
    fast = next(e for e in plan.examples if e.example.profile == "fast")
    # Dearer than demo/small, but of the first preferred family.
    assert fast.model == other.ref


def test_a_template_creates_an_ordinary_router_that_exports_and_edits(owner, demo_catalog):
    router, plan = router_create_from_template(owner=owner, template="profiles", slug="my-prof")
    assert router.slug == "my-prof" and router.owner == owner
    assert router.preferred_families == ["demo"]
    assert "From the template “Profiles”" in router.description
    exported = router_export(router=router)["router"]
    assert [r.get("target_profile") for r in exported["rules"]] == [
        "code",
        "creative",
        "fast",
        "general",
    ]
    again, _ = router_create_from_template(owner=owner, template="profiles")
    assert again.slug == "profiles"
    third, _ = router_create_from_template(owner=owner, template="profiles")
    assert third.slug == "profiles-2"
    with pytest.raises(ValidationError, match="already used"):
        router_create_from_template(owner=owner, template="profiles", slug="my-prof")
    with pytest.raises(ValidationError, match="Unknown template"):
        router_create_from_template(owner=owner, template="nope")


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_each_template_routes_its_examples_to_the_models_it_promises(owner, demo_catalog, name):
    router, plan = router_create_from_template(owner=owner, template=name)
    for planned in plan.examples:
        example = planned.example
        plan = plan_sync(
            panel_request(
                router=router,
                user=owner,
                text=example.text,
                workspace_type=example.workspace_type,
                workspace_tags=example.workspace_tags,
                tier=example.user_tier,
            )
        )
        decision = plan.decision
        assert decision is not None
        assert decision.model == planned.model, (example.why, decision.reason)
        if example.profile:
            assert decision.profile is not None
            assert decision.profile.profile.name == example.profile
        if example.tier:
            assert decision.tier == example.tier, decision.reason
