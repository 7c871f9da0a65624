"""Golden cases that expect a tier: validated against the router's tiers, passed when the turn
resolves that tier, through the service, the page, the JSON API and `router_test`."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from evaluation.golden import golden_case_create, golden_case_from_decision, golden_run
from routers import services
from tests.api.test_json_api import Api, api, api_as  # noqa: F401

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def add(router, message, expected, expect="tier", **extra):
    return golden_case_create(
        router=router, actor=router.owner, message=message, expect=expect, expected=expected
    )


@pytest.fixture
def tiered(private_router):
    """Code targets the coding tier; a message no rule matches goes to the balanced tier."""
    owner = private_router.owner
    code = private_router.rules.get(name="Code")
    services.rule_update(rule=code, target_tier="coding", actor=owner)
    private_router.refresh_from_db()
    services.router_set_tiers(
        router=private_router, tiers=private_router.tiers, default_tier="balanced", actor=owner
    )
    private_router.refresh_from_db()
    add(private_router, "my python bug", "coding")
    add(private_router, "hello there", "balanced")
    return private_router


def test_a_tier_case_passes_when_the_turn_resolves_that_tier(tiered):
    report = golden_run(router=tiered)
    assert (report.passed, report.failed) == (2, 0)
    assert {r.case.message: r.actual_tier for r in report.results} == {
        "my python bug": "coding",
        "hello there": "balanced",
    }


def test_a_tier_case_fails_when_the_turn_resolves_another_tier_or_none(tiered):
    owner = tiered.owner
    services.router_set_tiers(router=tiered, tiers=tiered.tiers, default_tier="", actor=owner)
    add(tiered, "my python bug", "deep")
    report = golden_run(router=tiered)
    failed = {(r.case.message, r.expected, r.actual_tier) for r in report.results if not r.passed}
    assert failed == {("hello there", "balanced", ""), ("my python bug", "deep", "coding")}
    assert report.passed == 1 and not report.ok


def test_a_tier_the_router_does_not_define_is_refused_naming_its_tiers(tiered):
    with pytest.raises(ValidationError) as caught:
        add(tiered, "x", "turbo")
    message = caught.value.message_dict["expected"][0]
    assert "turbo" in message and "balanced, smart, coding, deep" in message
    with pytest.raises(ValidationError):
        add(tiered, "x", "")
    assert tiered.golden_cases.count() == 2


def test_a_decision_adds_its_tier_when_asked_and_its_rule_by_default(tiered, log_message):
    decision = log_message(tiered, "python crash", "Code", "demo/coder", datetime.now(UTC))
    decision.tier = "coding"
    decision.save(update_fields=["tier"])
    owner = tiered.owner
    by_rule = golden_case_from_decision(router=tiered, decision=decision, actor=owner)
    assert (by_rule.expect, by_rule.expected) == ("rule", "Code")
    by_tier = golden_case_from_decision(
        router=tiered, decision=decision, actor=owner, expect="tier"
    )
    assert (by_tier.expect, by_tier.expected) == ("tier", "coding")
    untiered = log_message(tiered, "hi", "", "demo/small", datetime.now(UTC))
    with pytest.raises(ValidationError, match="no tier"):
        golden_case_from_decision(router=tiered, decision=untiered, actor=owner, expect="tier")


def test_router_test_exit_code_follows_tier_cases(tiered):
    out = io.StringIO()
    call_command("router_test", tiered.slug, stdout=out)
    assert "2 passed, 0 failed" in out.getvalue()
    assert "expected tier coding" in out.getvalue() and "(tier coding)" in out.getvalue()

    add(tiered, "hello there", "smart")
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("router_test", tiered.slug, stdout=out)
    assert exited.value.code == 1
    assert "FAIL" in out.getvalue() and "expected tier smart" in out.getvalue()


def test_the_api_adds_and_runs_tier_cases(api: Api, tiered, log_message):  # noqa: F811
    url = f"/routers/{tiered.pk}/golden"
    created = api.post(url, {"message": "fix my python", "expect": "tier", "expected": "coding"})
    assert created.status_code == 201 and created.json()["expect"] == "tier"
    bad = api.post(url, {"message": "x", "expect": "tier", "expected": "turbo"})
    assert bad.status_code == 422 and "balanced, smart, coding, deep" in bad.text
    report = api.post(f"{url}/run", {}).json()
    assert report["ok"] and report["passed"] == 3
    assert {c["actual_tier"] for c in report["cases"]} == {"coding", "balanced"}

    api.post(url, {"message": "hello there", "expect": "tier", "expected": "deep"})
    assert api.post(f"{url}/run", {}).json()["ok"] is False

    decision = log_message(tiered, "python crash", "Code", "demo/coder", datetime.now(UTC))
    decision.tier = "coding"
    decision.save(update_fields=["tier"])
    added = api.post(f"{url}/from-decision/{decision.pk}?expect=tier", {})
    assert added.status_code == 201 and added.json()["expected"] == "coding"
    assert api.post(f"{url}/from-decision/{decision.pk}?expect=model", {}).status_code == 422


def test_the_page_adds_a_tier_case_and_shows_expected_and_got_tier(client_for, tiered, log_message):
    client = client_for(tiered.owner)
    response = client.post(
        reverse("golden_add", args=[tiered.pk]),
        {"message": "fix my python", "expect": "tier", "expected": "coding"},
    )
    assert response.status_code == 302
    bad = client.post(
        reverse("golden_add", args=[tiered.pk]),
        {"message": "x", "expect": "tier", "expected": "turbo"},
    )
    assert bad.status_code == 422 and "balanced, smart, coding, deep" in bad.content.decode()

    html = client.post(reverse("golden_run", args=[tiered.pk]), {"version": ""}, **HTMX)
    text = html.content.decode()
    assert "3 passed, 0 failed" in text and "<th>Tier</th>" in text
    assert "tier coding" in text

    decision = log_message(tiered, "python crash", "Code", "demo/coder", datetime.now(UTC))
    decision.tier = "coding"
    decision.save(update_fields=["tier"])
    page = client.get(reverse("golden_page", args=[tiered.pk])).content.decode()
    assert "Add, expecting tier coding" in page
    client.post(reverse("golden_from_decision", args=[tiered.pk, decision.pk]), {"expect": "tier"})
    assert tiered.golden_cases.get(message="python crash").expected == "coding"
