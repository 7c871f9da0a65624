"""One validation of rules (engine.validation): the same bad rule through the rule form, the
JSON API and an import comes back with the same words, each surface locating it its own way
(issue 10, item 4)."""

from __future__ import annotations

import html
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.tokens import api_token_create
from engine import for_people, router_problems, rule_problems
from routers.models import Rule

REGEX = {"property": "regex", "operator": "matches", "value": "(unclosed"}

# (the rule, as the API and a file write it; the message every surface must show)
CASES = [
    (
        {"name": "Tickets", "kind": "calculated", "conditions": [REGEX]},
        "Regex: unbalanced parenthesis: a '(' is never closed",
    ),
    (
        {"name": "Empty", "kind": "calculated", "conditions": []},
        "A calculated rule needs at least one condition.",
    ),
    (
        {"name": "Vague", "kind": "llm", "description": "  "},
        "Describe when this rule applies; the classifier model reads it.",
    ),
    (
        {"name": "Billing", "kind": "semantic", "examples": ["only one"]},
        "Give at least 2 different examples.",
    ),
    (
        {"name": "Billing", "kind": "semantic", "examples": ["a", "b"], "threshold": 1.5},
        "The threshold must be between 0 and 1, not 1.5.",
    ),
    ({"name": "  ", "kind": "llm", "description": "law"}, "Give the rule a name."),
]


def _rule(case: dict[str, Any]) -> dict[str, Any]:
    return {"target_model": "demo/large", "match": "all", **case}


def via_form(client: Client, router, rule: dict[str, Any]) -> str:
    data: dict[str, Any] = {
        "name": rule["name"],
        "kind": rule["kind"],
        "match": rule["match"],
        "description": rule.get("description", ""),
        "target_model": rule["target_model"],
        "fallbacks": "",
        "examples": "\n".join(rule.get("examples", [])),
        "threshold": rule.get("threshold", 0.7),
        "margin": "",
        "cond": [],
    }
    for i, condition in enumerate(rule.get("conditions", [])):
        key = f"k{i}"
        data["cond"].append(key)
        data[f"cond-{key}-property"] = condition["property"]
        data[f"cond-{key}-operator"] = condition["operator"]
        data[f"cond-{key}-text"] = condition["value"]
    response = client.post(reverse("rule_create", args=[router.pk]), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    return html.unescape(response.content.decode())


def via_api(client: Client, token: str, router, rule: dict[str, Any]) -> list[dict[str, str]]:
    response = client.post(
        f"/api/routers/{router.pk}/rules",
        data=json.dumps(rule),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 422, response.content
    return response.json()["errors"]


def via_import(client: Client, token: str, rule: dict[str, Any]) -> list[str]:
    data = {
        "format": "routerweb.router",
        "version": 1,
        "router": {"name": "Imported", "primary_model": "demo/small", "rules": [rule]},
    }
    response = client.post(
        "/api/routers/import",
        data=json.dumps(data),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 422, response.content
    return [e["message"] for e in response.json()["errors"]]


@pytest.mark.parametrize(("case", "message"), CASES)
def test_the_same_bad_rule_reads_the_same_in_the_form_the_api_and_an_import(
    client_for, owner, private_router, case, message
):
    rule = _rule(case)
    problems = rule_problems(rule)
    assert [p.message for p in problems] == [message]
    location = problems[0].location

    before = Rule.objects.count()

    page = via_form(client_for(owner), private_router, rule)
    assert message in page

    token = api_token_create(user=owner, name="tests")[1]
    api = via_api(Client(), token, private_router, rule)
    assert {"field": location, "message": message} in api

    imported = via_import(Client(), token, rule)
    # 'rule 1 “Tickets”, condition 1, value: Regex: …' — located in the file, same words.
    assert for_people(f"rules[0].{location}: {message}", [rule["name"]]) in imported
    assert any(m.startswith("rule 1") and m.endswith(f": {message}") for m in imported)

    assert Rule.objects.count() == before  # nothing was saved anywhere


def test_every_problem_comes_back_at_once_with_its_location():
    problems = router_problems(
        {
            "name": "",
            "primary_model": "gpt-4o",
            "cooldown_minutes": -1,
            "time_zone": "Mars/Olympus",
            "rules": [
                {"name": "A", "kind": "calculated", "conditions": [REGEX, {"property": "x"}]},
                {"name": "B", "kind": "llm", "target_model": "demo/large"},
            ],
        }
    )
    assert [p.location for p in problems] == [
        "name",
        "primary_model",
        "cooldown_minutes",
        "time_zone",
        "rules[0].conditions[0].value",
        "rules[0].conditions[1].property",
        "rules[0].target_model",
        "rules[1].description",
    ]
