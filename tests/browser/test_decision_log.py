"""The decision log page in a real browser at phone and desktop widths: reached from the
analytics page, it shows what decided each message (profile, policy, budget step, tier),
filters by them and opens a decision's detail. No sideways scrolling, no script errors."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS, CHROMIUM, NO_SIDEWAYS_SCROLL, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary found (apt-get install chromium)"
    ),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [390, 1280])
def test_an_owner_filters_the_decision_log_by_profile_and_policy(
    live_server, browser_page, django_user_model, demo_catalog, width
):
    from playwright.sync_api import expect

    from decisions.log import new_payload
    from decisions.services import decision_write
    from routers import services

    page, errors = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    base = live_server.url
    owner = django_user_model.objects.create_user(username="olga", password="pw-olga-123")
    router = services.router_create(
        owner=owner, actor=owner, name="Log", slug="log", primary_model="demo/small"
    )

    def log(**fields):
        fields.setdefault("source", "rule")
        decision_write(new_payload(router_id=router.pk, router_version=1, **fields))

    log(rule_name="Quick", profile="fast", answered_by="demo/small", tier="balanced",
        reason="profile “fast” chose demo/small")  # fmt: skip
    log(rule_name="Quick", policy="Customer data", policy_action="restrict",
        answered_by="demo/large", reason="policy “Customer data” (card number): approved "
        "models only — a long reason that must wrap on a phone instead of scrolling sideways")  # fmt: skip
    log(source="budget", budget="Team monthly", budget_step="refused", succeeded=False)

    log_in(page, base, "olga", "pw-olga-123")

    page.goto(f"{base}/routers/{router.pk}/analytics/")
    expect(page.locator("[data-breakdown=profile]")).to_contain_text("profile “fast”")
    expect(page.locator("[data-breakdown=control]")).to_contain_text("budget “Team monthly”")
    page.click("[data-decision-log-link]")
    page.wait_for_url(f"{base}/routers/{router.pk}/decisions/*")
    expect(page.locator(".decision-row")).to_have_count(3)
    expect(page.locator("[data-tag=budget]")).to_contain_text("budget “Team monthly” refused")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.screenshot(path=str(ARTIFACTS / f"decision-log-{width}.png"), full_page=True)

    page.select_option("#log-policy", "Customer data")
    page.click("button:has-text('Filter')")
    expect(page.locator(".decision-row")).to_have_count(1)
    row = page.locator(".decision-row")
    expect(row.locator("[data-tag=policy]")).to_contain_text("Customer data (restrict)")
    row.locator("summary").click()
    expect(row.locator(".decision-reason")).to_contain_text("approved models only")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    page.select_option("#log-policy", "")
    page.select_option("#log-profile", "fast")
    page.click("button:has-text('Filter')")
    expect(page.locator(".decision-row")).to_have_count(1)
    expect(page.locator("[data-tag=profile]")).to_contain_text("profile “fast”")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.screenshot(path=str(ARTIFACTS / f"decision-log-filtered-{width}.png"), full_page=True)
    assert errors == []
