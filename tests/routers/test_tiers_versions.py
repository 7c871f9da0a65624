"""Tiers, the default tier, escalation, categories and tier targets are part of a router's
published version: a draft edit changes nothing for traffic until it is published."""

from __future__ import annotations

import pytest

from routers import services
from routers.compiling import compiled_router_for
from routers.versions import (
    router_draft_changed,
    router_publish,
    router_published,
    routing_content,
    snapshot_diff,
)

pytestmark = pytest.mark.django_db


def test_tiers_are_versioned_with_the_rules(make_router, owner):
    router = make_router(slug="versioned")
    assert not router_draft_changed(router=router)
    services.router_set_tiers(
        router=router,
        tiers=[{"name": "balanced", "model": "demo/small"}, {"name": "deep", "model": "demo/large", "fallback": "balanced"}],
        default_tier="balanced",
        escalation=True,
        actor=owner,
    )  # fmt: skip
    services.rule_create(
        router=router, name="Hard", kind="calculated", target_tier="deep", actor=owner,
        conditions=[{"property": "complexity", "operator": "eq", "value": "hard"}],
    )  # fmt: skip
    router.refresh_from_db()
    assert router_draft_changed(router=router)
    live = compiled_router_for(router_published(router))
    assert live.spec.default_tier == "" and "deep" in live.tiers and not live.rules
    old = router.published_version.snapshot

    version = router_publish(router=router, actor=owner)
    router.refresh_from_db()
    live = compiled_router_for(router_published(router))
    assert live.spec.default_tier == "balanced" and live.spec.escalation
    assert [t.name for t in live.spec.tiers] == ["balanced", "deep"]
    assert live.rules[0].target == "tier:deep"
    diff = snapshot_diff(old, version.snapshot)
    assert {label for label, _, _ in diff.settings} >= {"Tiers", "Default tier", "Escalation"}
    assert diff.added == ["Hard"]


def test_a_snapshot_from_before_tiers_routes_with_the_defaults(make_router):
    router = make_router(slug="old-snapshot")
    snapshot = router.published_version.snapshot
    for key in ("tiers", "default_tier", "escalation", "categories"):
        snapshot["router"].pop(key, None)
    content = routing_content(snapshot)
    assert [t["name"] for t in content["settings"]["tiers"]] == [
        "balanced",
        "smart",
        "coding",
        "deep",
    ]
    assert content["settings"]["default_tier"] == "" and "code" in content["settings"]["categories"]


def test_importing_a_file_into_the_draft_brings_its_tiers_and_tier_targets(make_router, owner):
    router = make_router(slug="draft-import")
    services.router_set_tiers(
        router=router,
        tiers=[{"name": "balanced", "model": "demo/small"}, {"name": "deep", "model": "demo/large", "fallback": "balanced"}],
        default_tier="deep",
        actor=owner,
    )  # fmt: skip
    services.rule_create(
        router=router, name="Hard", kind="calculated", target_tier="deep", actor=owner,
        conditions=[{"property": "complexity", "operator": "eq", "value": "hard"}],
    )  # fmt: skip
    router.refresh_from_db()
    exported = services.router_export(router=router)
    other = make_router(slug="draft-target")
    services.router_draft_import(router=other, data=exported, actor=owner)
    other.refresh_from_db()
    assert other.default_tier == "deep" and [t["name"] for t in other.tiers] == ["balanced", "deep"]
    rule = other.rules.get(name="Hard")
    assert rule.target_tier == "deep" and rule.target_model is None
    assert services.router_export(router=other)["router"]["rules"] == exported["router"]["rules"]
