"""Hostile router files, API bodies and form posts: every one a clear, located error that
changes nothing — never a 500, never a router too big to route with (issue 11, items 6, 7,
11, 12 and 15)."""

from __future__ import annotations

import copy
import json

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from engine.limits import (
    MAX_CONDITIONS_PER_RULE,
    MAX_KEYWORDS_PER_ROUTER,
    MAX_RULES_PER_ROUTER,
)
from routers import services
from routers.models import Router, Rule

RULE = {
    "name": "Code",
    "kind": "calculated",
    "conditions": [{"property": "keywords", "operator": "contains_any", "value": ["python"]}],
    "target_model": "demo/coder",
}


def router_file(**overrides) -> dict:
    router = {
        "name": "Imported",
        "slug": "imported",
        "primary_model": "demo/small",
        "rules": [copy.deepcopy(RULE)],
    }
    router.update(overrides)
    return {"format": "routerweb.router", "version": 1, "router": router}


@pytest.fixture
def api(token_for, owner, demo_catalog):
    token = token_for(owner)
    client = Client(raise_request_exception=False)

    def call(method: str, path: str, body=None, raw: str | None = None):
        return getattr(client, method)(
            f"/api{path}",
            data=raw if raw is not None else json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    return call


@pytest.fixture
def ui(client_for, owner, demo_catalog):
    client = client_for(owner)
    client.raise_request_exception = False
    return client


def import_problems(owner, doc) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        services.router_import(owner=owner, data=doc)
    assert not Router.objects.exists()
    return caught.value.messages


# --- 15: rules per router ----------------------------------------------------------------


def test_an_import_of_twenty_thousand_rules_is_refused_clearly(owner, demo_catalog):
    problems = import_problems(owner, router_file(rules=[copy.deepcopy(RULE)] * 20_000))
    assert any(f"at most {MAX_RULES_PER_ROUTER}" in p and p.startswith("rules") for p in problems)


def test_the_json_api_refuses_twenty_thousand_rules_with_a_422(api):
    response = api("post", "/routers/import", router_file(rules=[copy.deepcopy(RULE)] * 20_000))
    assert response.status_code == 422
    assert f"at most {MAX_RULES_PER_ROUTER}" in response.content.decode()
    assert not Router.objects.exists()


def test_an_import_at_the_rule_limit_works(owner, demo_catalog):
    rules = [dict(copy.deepcopy(RULE), name=f"R{i}") for i in range(MAX_RULES_PER_ROUTER)]
    router = services.router_import(owner=owner, data=router_file(rules=rules))
    assert router.rules.count() == MAX_RULES_PER_ROUTER


def test_adding_one_rule_past_the_limit_is_refused(owner, demo_catalog, make_router):
    router = make_router(slug="full")
    Rule.objects.bulk_create(
        Rule(router=router, name=f"R{i}", kind="llm", description="d", position=i,
             target_model=demo_catalog["small"])
        for i in range(MAX_RULES_PER_ROUTER)
    )  # fmt: skip
    with pytest.raises(ValidationError, match=f"at most {MAX_RULES_PER_ROUTER}"):
        services.rule_create(router=router, actor=router.owner, **RULE)
    assert router.rules.count() == MAX_RULES_PER_ROUTER


def test_keywords_over_the_router_limit_are_refused_on_create_and_update(make_router):
    router = make_router(slug="words")
    many = [f"w{i}" for i in range(200)]
    keywords = {"property": "keywords", "operator": "contains_any", "value": many}
    for _ in range(MAX_KEYWORDS_PER_ROUTER // 200):
        services.rule_create(router=router, actor=router.owner, **dict(RULE, conditions=[keywords]))
    with pytest.raises(ValidationError, match="keywords in all"):
        services.rule_create(router=router, actor=router.owner, **dict(RULE, conditions=[keywords]))
    # Editing a rule counts its new keywords instead of its old ones.
    first = router.rules.first()
    services.rule_update(rule=first, conditions=[keywords], actor=first.router.owner)
    with pytest.raises(ValidationError, match="keywords in all"):
        services.rule_update(rule=first, conditions=[keywords, keywords], actor=first.router.owner)


def test_conditions_per_rule_are_capped_in_files(owner, demo_catalog):
    rule = dict(RULE, conditions=[RULE["conditions"][0]] * (MAX_CONDITIONS_PER_RULE + 1))
    problems = import_problems(owner, router_file(rules=[rule]))
    assert any(p.startswith("rule 1 “Code”, conditions: ") for p in problems)


# --- 12: every number has bounds -----------------------------------------------------------


@pytest.mark.parametrize("minutes", [10**30, 1e30, -1, 525_601])
def test_an_absurd_cool_down_in_a_file_is_a_located_error(owner, demo_catalog, minutes):
    problems = import_problems(owner, router_file(cooldown_minutes=minutes))
    assert any(p.startswith("cooldown_minutes") for p in problems)


def test_an_absurd_cool_down_through_the_pages_is_a_form_error(ui):
    response = ui.post(
        reverse("router_create"),
        {"name": "R", "visibility": "private", "primary_model": "demo/small",
         "cooldown_minutes": "1" + "0" * 30, "time_zone": "UTC"},
    )  # fmt: skip
    assert response.status_code in (200, 422)
    assert not Router.objects.exists()


@pytest.mark.parametrize("value", [10**30, 1e30, 2**63, -5])
def test_an_absurd_number_in_a_condition_is_a_located_error(owner, demo_catalog, value):
    rule = dict(RULE, conditions=[{"property": "message_chars", "operator": "gt", "value": value}])
    problems = import_problems(owner, router_file(rules=[rule]))
    assert any(p.startswith("rule 1 “Code”, condition 1, value: ") for p in problems)


def test_a_huge_number_typed_in_a_condition_row_is_a_row_error(ui, make_router):
    router = make_router(slug="nums")
    response = ui.post(
        reverse("rule_create", args=[router.pk]),
        {"name": "Big", "kind": "calculated", "match": "all", "target_model": "demo/coder",
         "cond": "a", "cond-a-property": "message_chars", "cond-a-operator": "gt",
         "cond-a-text": "9" * 5000},
    )  # fmt: skip
    assert response.status_code in (200, 422)
    assert "whole number" in response.content.decode()
    assert not router.rules.exists()


# --- 11: deeply nested JSON ------------------------------------------------------------


@pytest.mark.parametrize("depth", [50, 5_000, 200_000])
def test_a_deeply_nested_file_pasted_in_the_page_is_a_form_error(ui, depth):
    text = json.dumps(router_file())[:-2] + ', "x": ' + "[" * depth + "]" * depth + "}}"
    response = ui.post(reverse("router_import"), {"json": text, "slug": ""})
    assert response.status_code == 422
    assert "nested" in response.content.decode()
    assert not Router.objects.exists()


@pytest.mark.parametrize("depth", [50, 5_000])
def test_a_deeply_nested_api_import_is_a_4xx(api, depth):
    raw = json.dumps(router_file())[:-2] + ', "x": ' + "[" * depth + "]" * depth + "}}"
    response = api("post", "/routers/import", raw=raw)
    assert 400 <= response.status_code < 500
    assert not Router.objects.exists()


# --- 6 and 7: NUL characters and multi-line names --------------------------------------------


@pytest.mark.parametrize(
    "doc",
    [
        router_file(name="Bad\u0000name"),
        router_file(rules=[dict(RULE, name="R\u0000")]),
        router_file(
            rules=[
                dict(
                    RULE,
                    conditions=[
                        {
                            "property": "keywords",
                            "operator": "contains_any",
                            "value": ["py\u0000thon"],
                        }
                    ],
                )
            ]
        ),  # fmt: skip
        router_file(
            rules=[
                dict(
                    RULE,
                    conditions=[
                        {"property": "keywords\u0000", "operator": "contains_any", "value": ["x"]}
                    ],
                )
            ]
        ),
    ],
)
def test_a_nul_character_anywhere_in_a_file_is_refused(owner, demo_catalog, doc):
    problems = import_problems(owner, doc)
    assert any("NUL" in p for p in problems)


def test_a_nul_character_pasted_in_the_page_is_a_form_error(ui):
    text = json.dumps(router_file(name="Bad\u0000name"))
    response = ui.post(reverse("router_import"), {"json": text, "slug": ""})
    assert response.status_code == 422
    assert not Router.objects.exists()


@pytest.mark.parametrize("name", ["Two\r\nlines", "Line\nbreak", "Tab\there", "Sep\u2028x"])
def test_names_are_single_line_in_files(owner, demo_catalog, name):
    assert import_problems(owner, router_file(name=name))
    assert import_problems(owner, router_file(rules=[dict(RULE, name=name)]))


@pytest.mark.parametrize("name", ["Two\r\nlines", "Tab\there", "Sep\u2029x"])
def test_names_are_single_line_in_services(make_router, name):
    router = make_router(slug="names")
    with pytest.raises(ValidationError, match="one line"):
        services.rule_create(router=router, actor=router.owner, **dict(RULE, name=name))
    with pytest.raises(ValidationError, match="one line"):
        services.router_update(router=router, name=name, actor=router.owner)
    assert not router.rules.exists()


@pytest.mark.parametrize("name", ["Two\r\nlines", "Tab\there"])
def test_names_are_single_line_in_the_json_api(api, name):
    response = api("post", "/routers", {"name": name, "primary_model": "demo/small"})
    assert response.status_code == 422
    assert "one line" in response.content.decode()


def test_an_export_of_a_hostile_slug_has_a_safe_filename(ui, make_router):
    router = make_router(slug="plain")
    Router.objects.filter(pk=router.pk).update(slug='evil"\r\nX-Evil: 1')
    response = ui.get(reverse("router_export", args=[router.pk]))
    assert response.status_code == 200
    assert "\n" not in response["Content-Disposition"] and "X-Evil" not in response
