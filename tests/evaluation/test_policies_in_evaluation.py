"""Golden sets and replays apply the data policies as sending does (refuse, mask, restrict);
a golden case can expect a policy's refusal or the model a policy forces. Budgets and
stickiness are left out on purpose (README, Golden sets)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from evaluation.golden import NO_RULE, REFUSED, golden_case_create, golden_run
from evaluation.models import ReplayStatus
from evaluation.services import replay_start
from governance.models import Budget, Policy, SpendEntry
from tests.api.test_json_api import Api, api, api_as  # noqa: F401

pytestmark = pytest.mark.django_db

CARD = "4111 1111 1111 1111"
SECRET = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"


def add(router, message, expected="", **extra):
    return golden_case_create(
        router=router, actor=router.owner, message=message, expected=expected, **extra
    )


def test_golden_cases_see_the_policies_refusal_and_forced_model(private_router, owner):
    Policy.objects.create(name="No secrets", detectors=["secret"], action="refuse")
    Policy.objects.create(
        name="Cards stay small",
        scope="router",
        router_id=private_router.pk,
        detectors=["card"],
        action="restrict",
        approved=["demo/small"],
    )
    add(private_router, f"my python bug, token {SECRET}", "No secrets", expect="refused")
    add(private_router, f"python bug with {SECRET}", "", expect="refused")  # any policy
    add(private_router, f"my python bug, card {CARD}", "demo/small", expect="model")
    add(private_router, f"my python bug, card {CARD}", "Code")  # the rule still decided
    failing_rule = add(private_router, f"my python bug {SECRET}", "Code")
    failing_refusal = add(private_router, "my python bug", "", expect="refused")
    wrong_policy = add(private_router, f"token {SECRET}", "Cards stay small", expect="refused")
    # A budget over its limit does not change a golden run: budgets are the sender's.
    Budget.objects.create(
        name="Spent", scope="user", user=owner, period="month", limit=Decimal("1")
    )
    SpendEntry.objects.create(uid="s", created_at=datetime.now(UTC), cost=5, user_id=owner.pk)

    report = golden_run(router=private_router)
    results = {r.case.pk: r for r in report.results}
    assert report.passed == 4 and report.failed == 3
    assert {pk for pk, r in results.items() if not r.passed} == {
        failing_rule.pk,
        failing_refusal.pk,
        wrong_policy.pk,
    }
    refused = results[failing_rule.pk]
    assert (refused.actual_rule, refused.actual_model) == (REFUSED, "")
    assert 'Refused by policy "No secrets"' in refused.reason and SECRET not in refused.reason
    assert refused.classifier_called is False
    assert results[failing_refusal.pk].actual_rule == "Code"
    forced = next(r for r in report.results if r.case.expect == "model")
    assert forced.actual_rule == "Code" and "Cards stay small" in forced.reason
    data = report.to_dict()
    assert {c["expect"] for c in data["cases"]} == {"rule", "model", "refused"}


def test_an_expected_refusal_may_name_no_policy_and_other_kinds_keep_their_checks(
    private_router,
):
    case = add(private_router, "anything", NO_RULE, expect="refused")
    assert case.expected == ""
    with pytest.raises(ValidationError):
        add(private_router, "anything", "", expect="blocked")


def test_the_api_adds_a_case_expecting_a_refusal(
    api: Api,  # noqa: F811
    private_router,
):
    Policy.objects.create(name="No secrets", detectors=["secret"], action="refuse")
    created = api.post(
        f"/routers/{private_router.pk}/golden",
        {"message": f"key {SECRET}", "expect": "refused", "expected": "No secrets"},
    )
    assert created.status_code == 201, created.content
    run = api.post(f"/routers/{private_router.pk}/golden/run", {}).json()
    assert run["ok"] and run["cases"][0]["actual_rule"] == REFUSED


def test_a_replay_applies_todays_policies_and_says_what_they_refuse(
    private_router, log_message, django_capture_on_commit_callbacks
):
    day = datetime(2025, 3, 10, 12, tzinfo=UTC)
    log_message(private_router, "my python bug", "Code", "demo/coder", day)
    log_message(private_router, f"python bug {SECRET}", "Code", "demo/coder", day)
    log_message(private_router, f"python bug, card {CARD}", "Code", "demo/coder", day)
    Policy.objects.create(name="No secrets", detectors=["secret"], action="refuse")
    Policy.objects.create(
        name="Cards", detectors=["card"], action="restrict", approved=["demo/small"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        run = replay_start(
            router=private_router,
            actor=private_router.owner,
            start=day - timedelta(days=1),
            end=day + timedelta(days=1),
            cap=Decimal("1"),
        )
    run.refresh_from_db()
    assert run.status == ReplayStatus.DONE and run.changed == 2
    assert sorted(run.transitions, key=lambda t: t["to_rule"]) == [
        {
            "from_rule": "Code",
            "to_rule": "(refused by a policy)",
            "from_model": "demo/coder",
            "to_model": "",
            "count": 1,
        },
        {
            "from_rule": "Code",
            "to_rule": "Code",
            "from_model": "demo/coder",
            "to_model": "demo/small",
            "count": 1,
        },
    ]


def test_the_golden_page_shows_a_refusal_expected_and_got(client_for, private_router):
    Policy.objects.create(name="No secrets", detectors=["secret"], action="refuse")
    add(private_router, f"key {SECRET}", "No secrets", expect="refused")
    client = client_for(private_router.owner)
    page = client.get(reverse("golden_page", args=[private_router.pk])).content.decode()
    assert "refused by No secrets" in page
    ran = client.post(reverse("golden_run", args=[private_router.pk]), {}).content.decode()
    assert "(refused by a policy)" in ran and "Refused by policy &quot;No secrets&quot;" in ran
