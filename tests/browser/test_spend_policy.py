"""The issue's acceptance, in a real browser: an admin sets a monthly team budget with an 80%
step-down and a "customer data → approved models only" policy; the badge shows both; the card
number never reaches an unapproved model, the classifier included (checked at the fake
upstream, which every model call goes to)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.browser.conftest import ARTIFACTS, CHROMIUM, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary found (apt-get install chromium)"
    ),
]

CARD = "4111 1111 1111 1111"


@pytest.mark.django_db(transaction=True)
def test_an_admin_sets_a_team_budget_and_a_customer_data_policy_and_the_badge_shows_both(
    live_server, browser_page, django_user_model, fake_upstream
):
    from playwright.sync_api import expect

    from chat.models import Workspace
    from governance.models import Budget, Policy, SpendEntry
    from providers.models import CatalogModel, Provider
    from routers import services

    page, errors = browser_page
    base = live_server.url
    admin = django_user_model.objects.create_user(
        username="ada", password="pw-ada-123", role="admin", is_staff=True, is_superuser=True
    )
    provider = Provider.objects.create(
        name="Fake", slug="fake", kind="openai", base_url=fake_upstream.base_url("openai")
    )
    provider.api_key = "sk-fake-upstream"
    provider.save()
    for name, price in (("cheap", "0.10"), ("dear", "10.00")):
        CatalogModel.objects.create(
            provider=provider,
            model_id=name,
            display_name=name.title(),
            input_price_per_m=Decimal(price),
            output_price_per_m=Decimal(price),
        )
    # The dear model is the primary and judges the LLM rule: it must see nothing.
    router = services.router_create(
        owner=admin, name="Team", slug="team", primary_model="fake/dear", actor=admin
    )
    services.rule_create(
        router=router,
        name="Legal",
        kind="llm",
        description="contracts or law",
        target_model="fake/dear",
        actor=router.owner,
    )
    team = Workspace.objects.create(name="Sales team", owner=admin, mode="router", router=router)
    team.members.add(admin)

    log_in(page, base, "ada", "pw-ada-123")

    page.click("nav >> text=Budgets")
    page.click("text=New budget")
    page.fill("#id_name", "Team monthly")
    page.select_option("#id_scope", "workspace")
    page.select_option("#id_workspace", label="Sales team")
    page.select_option("#id_period", "month")
    page.fill("#id_limit", "1.00")
    page.fill("#id_step_percent", "80")
    page.click("button:has-text('Save')")
    expect(page.locator("text=steps down at 80%")).to_be_visible()

    page.click("nav >> text=Policies")
    page.click("text=New policy")
    page.fill("#id_name", "Customer data")
    page.select_option("#id_scope", "instance")
    page.check("input[name=detectors][value=card]")
    page.check("input[name=action][value=restrict]")
    page.check("input[name=approved][value='fake/cheap']")
    page.click("button:has-text('Save')")
    expect(page.locator("[data-policy-row]")).to_contain_text("Approved models only: fake/cheap")
    assert Policy.objects.get().approved == ["fake/cheap"]
    budget = Budget.objects.get()
    assert (budget.workspace_id, budget.step_percent) == (team.pk, 80)

    from django.utils import timezone

    SpendEntry.objects.create(
        uid="earlier", created_at=timezone.now(), cost=Decimal("0.85"), workspace_id=team.pk
    )
    page.goto(f"{base}/workspaces/{team.pk}/")
    page.fill("form[data-composer] textarea", f"Is this contract fine? Card {CARD}")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/threads/*/")
    badge = page.locator("#messages .msg.assistant .badge").last
    expect(badge.locator("[data-policy]")).to_have_text(
        "policy “Customer data”: approved models only"
    )
    expect(badge.locator("[data-budget]")).to_have_text(
        "budget “Team monthly”: over 80%: cheapest suitable model"
    )
    expect(badge.locator(".badge-model")).to_have_text("Cheap")
    page.screenshot(path=str(ARTIFACTS / "spend-policy-badge.png"), full_page=True)

    assert [r.model for r in fake_upstream.requests] == ["cheap"]
    assert "4111" not in json.dumps([r.body for r in fake_upstream.requests if r.model != "cheap"])
    assert errors == []
