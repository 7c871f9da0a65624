"""Semantic examples in the rule builder, in a real browser at phone and desktop widths: one
field per example, Enter adds the next, pasted lines become fields, duplicates across rules are
flagged beside the example, remove in place, suggest a threshold, save."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ARTIFACTS, CHROMIUM, NO_SIDEWAYS_SCROLL, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary found (apt-get install chromium)"
    ),
]


def settled(locator) -> None:
    from playwright.sync_api import expect

    expect(locator).not_to_have_class(re.compile(r"\bhtmx-(added|settling)\b"))


@pytest.mark.parametrize("width", [390, 1280])
def test_examples_are_added_pasted_flagged_and_removed_in_place(
    transactional_db, live_server, browser_page, django_user_model, width
):
    from playwright.sync_api import expect

    from providers.catalog import provider_ensure
    from routers import services
    from routers.models import Rule

    provider_ensure(slug="demo", name="Demo (simulated)", kind="demo")
    bea = django_user_model.objects.create_user(username="bea", password="builder-pw-1")
    router = services.router_create(
        owner=bea,
        name="Support",
        slug="support",
        primary_model="demo/small",
        embedding_model="demo/embed",
        actor=bea,
    )
    services.rule_create(
        router=router,
        name="Translations",
        kind="semantic",
        examples=["Translate this into French", "How do you say thank you in Spanish?"],
        threshold=0.35,
        target_model="demo/small",
        actor=bea,
    )
    page, errors = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server.url, "bea", "builder-pw-1")

    page.goto(f"{live_server.url}/routers/{router.pk}/")
    page.click("text=+ Add rule")
    form = page.locator("#new-rule form")
    settled(form)
    form.locator("input[name=name]").fill("Billing")
    form.locator("label.kind-option:has-text('Semantic')").click()
    rows = form.locator(".example-row")
    expect(rows).to_have_count(2)

    # Type one, press Enter: a third field appears, focused, and takes the next example.
    rows.nth(0).locator("input[data-example-input]").fill("I was charged twice")
    rows.nth(1).locator("input[data-example-input]").fill("Where is my refund?")
    rows.nth(1).locator("input[data-example-input]").press("Enter")
    expect(rows).to_have_count(3)
    settled(rows.nth(2))
    expect(rows.nth(2).locator("input[data-example-input]")).to_be_focused()
    page.keyboard.type("My invoice is wrong")

    # Paste many at once: each line becomes a field, the box empties; the one that is also
    # an example of "Translations" is flagged beside it.
    form.locator(".paste-many summary").click()
    form.locator(".paste-box textarea").fill(
        "Cancel my subscription\nTranslate this into French\nUpdate my card details"
    )
    form.locator("button:has-text('Add these as examples')").click()
    expect(rows).to_have_count(6)
    expect(form.locator(".paste-box textarea")).to_have_value("")
    flagged = rows.nth(4)
    expect(flagged.locator(".example-flag")).to_have_text("also an example of “Translations”")
    expect(form.locator(".example-summary")).to_contain_text("Examples flagged")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.screenshot(path=str(ARTIFACTS / f"semantic-examples-{width}.png"), full_page=True)

    # Remove the duplicate in place: the flags are checked again and the summary clears.
    flagged.locator("[data-remove-row]").click()
    expect(rows).to_have_count(5)
    expect(form.locator(".example-summary")).to_contain_text("No example repeats")

    form.locator("button:has-text('Suggest threshold')").click()
    expect(form.locator(".suggestion")).to_contain_text("Leave-one-out")
    form.locator("[data-apply-threshold]").click()
    form.locator("select[name=target_model]").select_option("demo/large")
    form.locator("button:has-text('Add rule')").click()
    expect(page.locator("#rules .rule")).to_have_count(2)
    rule = Rule.objects.get(name="Billing")
    assert rule.examples == [
        "I was charged twice",
        "Where is my refund?",
        "My invoice is wrong",
        "Cancel my subscription",
        "Update my card details",
    ]
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    assert errors == []
