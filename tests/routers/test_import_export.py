from __future__ import annotations

import copy
import json

import pytest
from django.core.exceptions import ValidationError

from routers import services
from routers.models import Router, Rule

pytestmark = pytest.mark.django_db


TIERS_V2 = {
    "tiers": [
        {"name": "balanced", "model": "demo/small", "fallback": "", "description": "everyday"},
        {"name": "deep", "model": "", "fallback": "balanced", "description": ""},
    ],
    "default_tier": "balanced",
    "escalation": True,
    "categories": ["chat", "code", "legal"],
}


def _file(**router_overrides):
    doc = {
        "format": "routerweb.router",
        "version": 2,
        "router": {
            "name": "Imported",
            "slug": "imported",
            "description": "From a file",
            "visibility": "shared",
            "primary_model": "demo/small",
            "classifier_model": "demo/small",
            "fallbacks": ["demo/large"],
            "sticky": True,
            "cooldown_minutes": 15,
            "time_zone": "Europe/Paris",
            **TIERS_V2,
            "rules": [
                {
                    "name": "Code",
                    "enabled": True,
                    "kind": "calculated",
                    "match": "any",
                    "conditions": [
                        {
                            "property": "keywords",
                            "operator": "contains_any",
                            "value": ["python", "stack trace"],
                        },
                        {"property": "has_code", "operator": "is_true", "value": None},
                    ],
                    "description": "",
                    "target_model": "demo/coder",
                    "fallbacks": [],
                },
                {
                    "name": "Legal",
                    "enabled": False,
                    "kind": "llm",
                    "match": "all",
                    "conditions": [],
                    "description": "Contracts and compliance.",
                    "target_model": "demo/large",
                    "fallbacks": ["demo/small"],
                },
                {
                    "name": "Tickets",
                    "enabled": True,
                    "kind": "calculated",
                    "match": "all",
                    "conditions": [
                        {"property": "regex", "operator": "matches", "value": r"\b[A-Z]+-\d+\b"}
                    ],
                    "description": "",
                    "target_model": "demo/coder",
                    "fallbacks": [],
                },
            ],
        },
    }
    doc["router"].update(router_overrides)
    return doc


def test_import_then_export_gives_the_same_json(owner, demo_catalog):
    data = _file()
    router = services.router_import(owner=owner, data=copy.deepcopy(data))
    assert router.owner == owner
    assert json.dumps(services.router_export(router=router), sort_keys=True) == json.dumps(
        data, sort_keys=True
    )


def test_a_version_1_file_still_imports_with_the_default_tiers_and_categories(owner, demo_catalog):
    data = _file()
    data["version"] = 1
    for key in TIERS_V2:
        del data["router"][key]
    router = services.router_import(owner=owner, data=data)
    assert [t["name"] for t in router.tiers] == ["balanced", "smart", "coding", "deep"]
    assert all(t["model"] == "" for t in router.tiers)
    assert router.default_tier == "" and not router.escalation
    assert "code" in router.categories
    exported = services.router_export(router=router)
    assert (
        exported["version"] == 2 and exported["router"]["rules"][0]["target_model"] == "demo/coder"
    )


def test_rules_may_target_tiers_in_a_file(owner, demo_catalog):
    data = _file()
    rule = data["router"]["rules"][0]
    del rule["target_model"]
    rule["target_tier"] = "deep"
    rule["conditions"] = [{"property": "category", "operator": "eq", "value": "legal"}]
    router = services.router_import(owner=owner, data=copy.deepcopy(data))
    stored = router.rules.get(name="Code")
    assert stored.target_tier == "deep" and stored.target_model is None
    assert services.router_export(router=router)["router"]["rules"][0] == rule


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {"target_tier": "huge", "target_model": None},
            "rule 1 “Code”, target_tier: 'huge' is not one of the router's tiers",
        ),
        (
            {"target_tier": "deep", "target_model": "demo/coder"},
            "rule 1 “Code”: give target_model or target_tier, not both",
        ),
        (
            {"conditions": [{"property": "category", "operator": "eq", "value": "math"}]},
            "'math' is not one of the router's categories (chat, code, legal)",
        ),
    ],
)
def test_bad_tier_targets_and_categories_are_located(owner, demo_catalog, change, problem):
    data = _file()
    data["router"]["rules"][0].update(change)
    with pytest.raises(ValidationError) as exc:
        services.router_import(owner=owner, data=data)
    assert any(problem in m for m in exc.value.messages), exc.value.messages
    assert not Router.objects.filter(slug="imported").exists()


def test_bad_tiers_in_a_file_are_refused(owner, demo_catalog):
    data = _file(tiers=[{"name": "a", "fallback": "b"}], default_tier="")
    with pytest.raises(ValidationError) as exc:
        services.router_import(owner=owner, data=data)
    assert any("falls back to 'b', which is not a tier" in m for m in exc.value.messages)


def test_export_then_import_round_trips_a_built_router(private_router, teammate):
    exported = services.router_export(router=private_router)
    copy_ = services.router_import(owner=teammate, data=exported, slug="mine-now")
    again = services.router_export(router=copy_)
    assert again["router"].pop("slug") == "mine-now"
    exported["router"].pop("slug")
    assert again == exported


def test_a_taken_slug_from_the_file_gets_a_suffix_but_an_explicit_one_is_an_error(
    owner, demo_catalog
):
    first = services.router_import(owner=owner, data=_file())
    second = services.router_import(owner=owner, data=_file())
    third = services.router_import(owner=owner, data=_file())
    assert [first.slug, second.slug, third.slug] == ["imported", "imported-2", "imported-3"]
    with pytest.raises(ValidationError) as exc:
        services.router_import(owner=owner, data=_file(), slug="imported")
    assert "already used" in exc.value.message_dict["slug"][0]


def _bad(mutate):
    data = _file()
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"hello": "world"}, "format: Field required"),
        (
            {"format": "something.else", "version": 1, "router": {}},
            'format: expected "routerweb.router"',
        ),
        ({**_file(), "version": 7}, "version: this instance reads version 1 and 2 files, found 7"),
        (_bad(lambda d: d["router"].pop("primary_model")), "primary_model: Field required"),
        (
            _bad(lambda d: d["router"]["rules"][2]["conditions"][0].update(value="(oops")),
            "rule 3 “Tickets”, condition 1, value: Regex: unbalanced parenthesis",
        ),
        (
            _bad(lambda d: d["router"]["rules"][0]["conditions"][0].update(value=[])),
            "rule 1 “Code”, condition 1, value: Keywords: add at least one keyword",
        ),
        (
            _bad(lambda d: d["router"]["rules"][1].update(target_model="demo/nope")),
            "rule 2 “Legal”, target_model: Unknown model 'demo/nope': it is not in the enabled",
        ),
        (
            _bad(lambda d: d["router"]["rules"][1].update(description="  ")),
            "rule 2 “Legal”, description:",
        ),
        (
            _bad(lambda d: d["router"]["rules"][0].update(enabled="yes")),
            "rule 1 “Code”, enabled: Input should be a valid boolean",
        ),
        (
            _bad(lambda d: d["router"].update(time_zone="Moon/Base")),
            "time_zone: 'Moon/Base' is not an IANA time zone",
        ),
    ],
)
def test_a_bad_file_changes_nothing_and_says_where(owner, demo_catalog, data, expected):
    with pytest.raises(ValidationError) as exc:
        services.router_import(owner=owner, data=data)
    assert any(expected in message for message in exc.value.messages), exc.value.messages
    assert Router.objects.count() == 0
    assert Rule.objects.count() == 0


def test_text_that_is_not_json_is_reported_with_its_position(owner, demo_catalog):
    with pytest.raises(ValidationError) as exc:
        services.router_import_text(owner=owner, text='{"format": "routerweb.router",\n  oops}')
    assert exc.value.messages[0].startswith("Not valid JSON: line 2, column 3")
    assert Router.objects.count() == 0


def test_all_problems_of_a_file_are_reported_at_once(owner, demo_catalog):
    data = _file()
    data["router"]["rules"][0]["target_model"] = "demo/ghost"
    data["router"]["rules"][2]["conditions"][0]["value"] = "(x"
    with pytest.raises(ValidationError) as exc:
        services.router_import(owner=owner, data=data)
    assert exc.value.messages == [
        "rule 3 “Tickets”, condition 1, value: Regex: unbalanced parenthesis: a '(' is never closed",
        "rule 1 “Code”, target_model: Unknown model 'demo/ghost': it is not in the enabled catalog.",
    ]


def test_a_nameless_rule_is_still_counted_from_one(owner, demo_catalog):
    data = _file()
    data["router"]["rules"][1]["name"] = ""
    with pytest.raises(ValidationError) as exc:
        services.router_import(owner=owner, data=data)
    assert any(m.startswith("rule 2, name:") for m in exc.value.messages), exc.value.messages
    data = _file(fallbacks=["demo/ghost"])
    with pytest.raises(ValidationError) as exc:
        services.router_import(owner=owner, data=data)
    assert any(m.startswith("fallback 1: ") for m in exc.value.messages), exc.value.messages


def test_a_file_without_a_slug_gets_one_from_the_name(owner, demo_catalog):
    data = _file(name="Support Desk")
    del data["router"]["slug"]
    first = services.router_import(owner=owner, data=copy.deepcopy(data))
    second = services.router_import(owner=owner, data=data)
    assert (first.slug, second.slug) == ("support-desk", "support-desk-2")


def test_a_routers_failure_policy_travels_with_its_export(private_router, teammate):
    services.router_set_failover_policy(
        router=private_router,
        overrides={"stall_timeout": 45, "continue_cut_answers": False},
        actor=private_router.owner,
    )

    exported = services.router_export(router=private_router)
    copy_ = services.router_import(owner=teammate, data=exported, slug="mine-too")

    assert exported["router"]["failover_policy"] == {
        "stall_timeout": 45.0,
        "continue_cut_answers": False,
    }
    assert copy_.failover_policy == private_router.failover_policy
    plain = services.router_import(owner=teammate, data=_file(), slug="plain")
    assert "failover_policy" not in services.router_export(router=plain)["router"]


def test_a_bad_failure_policy_in_a_file_is_refused_and_says_where(owner, demo_catalog):
    data = _file(failover_policy={"stall_timeout": 0, "retries": 3})

    with pytest.raises(ValidationError) as exc:
        services.router_import(owner=owner, data=data)

    text = " ".join(exc.value.messages)
    assert "failover_policy.stall_timeout" in text and "failover_policy.retries" in text
    assert Router.objects.count() == 0
