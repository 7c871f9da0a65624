"""The decision log records what decided a route — the profile, the data policies (names and
strongest action, never what they found), the budget's step, besides the rule, tier and
category — and an operator filters on them: the JSON API, the log page, analytics and CSV."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from decisions.analytics import control_labels
from decisions.log import new_payload
from decisions.models import RoutingDecision
from decisions.services import decision_write
from governance.models import Budget, Policy, SpendEntry
from planning.planner import panel_request, plan_sync, settle
from providers.failover import ChainResult
from routers import services
from routers.facts import RoutingFacts
from routers.versions import router_publish
from tests.api.conftest import token_for  # noqa: F401
from tests.api.test_json_api import api_as  # noqa: F401

pytestmark = pytest.mark.django_db

CARD = "4111 1111 1111 1111"


@pytest.fixture
def profile_router(owner, demo_catalog):
    router = services.router_create(
        owner=owner, actor=owner, name="Cards", slug="cards", primary_model="demo/large"
    )
    services.rule_create(
        router=router,
        actor=owner,
        name="Quick",
        kind="calculated",
        conditions=[{"property": "keywords", "operator": "contains_any", "value": ["card"]}],
        target_profile="fast",
    )
    router_publish(router=router, actor=owner)  # traffic routes with the published version
    router.refresh_from_db()
    return router


def test_facts_give_the_log_the_profile_policies_and_budget_step():
    facts = RoutingFacts(
        "rule",
        profile={"name": "fast"},
        policy={
            "hits": [
                {"policy": "Customer data", "action": "restrict"},
                {"policy": "Secrets", "action": "mask"},
                {"policy": "Customer data", "action": "restrict"},
            ]
        },
        budget={"name": "Team", "step": "step_down"},
    )
    assert facts.log_fields() == {
        "profile": "fast",
        "policy": "Customer data, Secrets",
        "policy_action": "restrict",
        "budget": "Team",
        "budget_step": "step_down",
    }
    assert RoutingFacts("rule").log_fields() == dict.fromkeys(
        ("profile", "policy", "policy_action", "budget", "budget_step"), ""
    )
    assert control_labels(
        {"policy": "A, B", "policy_action": "mask", "budget": "T", "budget_step": "refused"}
    ) == [  # fmt: skip
        "policy “A” (mask)",
        "policy “B” (mask)",
        "budget “T” refused",
    ]


def test_an_answer_routed_by_a_profile_under_a_policy_and_a_budget_step_logs_all_three(
    owner, profile_router, django_capture_on_commit_callbacks
):
    Policy.objects.create(
        name="Customer data",
        detectors=["card"],
        action="restrict",
        approved=["demo/small", "demo/large"],
    )
    Budget.objects.create(
        name="Mine", scope="user", user=owner, period="month", limit=Decimal("10"), step_percent=80
    )
    SpendEntry.objects.create(
        uid="seed", created_at=timezone.now(), cost=Decimal("8.5"), user_id=owner.pk
    )
    req = panel_request(router=profile_router, user=owner, text=f"my card {CARD} was charged")
    plan = plan_sync(dataclasses.replace(req, channel="chat"))
    assert plan.chain and plan.facts.profile and plan.facts.policy and plan.facts.budget
    result = ChainResult(answered_by=plan.chain[0].ref, complete=True)
    with django_capture_on_commit_callbacks(execute=True):
        settle(plan, result)
    decision = RoutingDecision.objects.get()
    assert (decision.rule_name, decision.profile) == ("Quick", "fast")
    assert (decision.policy, decision.policy_action) == ("Customer data", "restrict")
    assert (decision.budget, decision.budget_step) == ("Mine", "step_down")
    assert "4111" not in decision.policy + decision.reason


def _log(router, **fields):
    fields.setdefault("source", "rule")
    return decision_write(new_payload(router_id=router.pk, router_version=1, **fields))


def test_the_api_the_log_page_analytics_and_csv_filter_and_show_them(
    api_as,  # noqa: F811
    client_for,
    owner,
    profile_router,
):
    _log(profile_router, rule_name="Quick", profile="fast", tier="smart", answered_by="demo/small")
    _log(
        profile_router,
        rule_name="Quick",
        policy="Customer data, Secrets",
        policy_action="restrict",
        reason="policy matched",
    )
    _log(profile_router, source="budget", budget="Mine", budget_step="refused", succeeded=False)

    api = api_as(owner)
    rows = api.get(f"/decisions?router={profile_router.pk}&profile=fast").json()["items"]
    assert [(r["profile"], r["tier"]) for r in rows] == [("fast", "smart")]
    rows = api.get("/decisions?policy=Secrets").json()["items"]
    assert [(r["policy"], r["policy_action"]) for r in rows] == [
        ("Customer data, Secrets", "restrict")
    ]
    assert [r["source"] for r in api.get("/decisions?budget_step=refused").json()["items"]] == [
        "budget"
    ]
    assert api.get("/decisions?budget_step=nope").status_code == 422

    client = client_for(owner)
    url = reverse("router_decisions", args=[profile_router.pk])
    page = client.get(url).content.decode()
    assert page.count('class="card decision-row"') == 3
    assert "profile “fast”" in page and "budget “Mine” refused" in page
    assert "policy Customer data, Secrets (restrict)" in page
    assert '<option value="Secrets">' in page  # each policy's name is a filter choice
    filtered = client.get(url, {"policy": "Customer data"}).content.decode()
    assert filtered.count('class="card decision-row"') == 1
    assert (
        client.get(url, {"profile": "fast", "policy": "Secrets"}).context["page"].paginator.count
        == 0
    )

    stats = client.get(reverse("router_analytics", args=[profile_router.pk])).context["stats"]
    assert [(r.label, r.messages) for r in stats.by_profile] == [("profile “fast”", 1)]
    assert {r.label for r in stats.by_control} == {
        "policy “Customer data” (restrict)",
        "policy “Secrets” (restrict)",
        "budget “Mine” refused",
    }
    csv = b"".join(
        client.get(reverse("router_analytics_csv", args=[profile_router.pk])).streaming_content
    ).decode()
    assert "profile,policy,policy_action,budget,budget_step" in csv.splitlines()[0]
    assert csv.splitlines()[-1].endswith(",,,,Mine,refused")


def test_the_log_page_is_for_those_who_may_edit_the_router(client_for, outsider, profile_router):
    profile_router.visibility = "shared"
    profile_router.save()
    assert (
        client_for(outsider).get(reverse("router_decisions", args=[profile_router.pk])).status_code
        == 403
    )
