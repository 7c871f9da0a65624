"""The rule builder in a real browser: log in, build a router, drag to reorder, test it.

Runs against Django's threaded live server (WSGI), which is enough for the builder pages.
Screenshots go to test-artifacts/ (git-ignored) so a failure can be looked at.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ARTIFACTS, CHROMIUM, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary found (apt-get install chromium)"
    ),
]


def settled(locator) -> None:
    """Wait until htmx has finished swapping `locator` in (it removes `htmx-added` then)."""
    from playwright.sync_api import expect

    expect(locator).not_to_have_class(re.compile(r"\bhtmx-(added|settling)\b"))


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"builder-{name}.png"), full_page=True)


def _drag(page, source, target, *, moved) -> None:
    """A real mouse drag, in small steps (SortableJS runs with forceFallback: true), let go
    once `moved` (a place in the list) holds the dragged row: the fallback moves it on a
    timer of its own, not on each mouse move, so letting go at once could drop it unmoved."""
    from playwright.sync_api import expect

    src = source.bounding_box()
    dst = target.bounding_box()
    page.mouse.move(src["x"] + src["width"] / 2, src["y"] + src["height"] / 2)
    page.mouse.down()
    page.mouse.move(src["x"] + src["width"] / 2, src["y"] + src["height"] / 2 - 5, steps=3)
    page.mouse.move(dst["x"] + dst["width"] / 2, dst["y"] + 2, steps=15)
    expect(moved).to_have_class(re.compile(r"\brule-ghost\b"))  # the dragged row, in place
    page.mouse.up()


def test_build_reorder_and_test_a_router(
    transactional_db, live_server, browser_page, django_user_model
):
    from playwright.sync_api import expect

    from providers.catalog import provider_ensure
    from routers.models import Router

    provider_ensure(slug="demo", name="Demo (simulated)", kind="demo")
    django_user_model.objects.create_user(username="bea", password="builder-pw-1")
    page, errors = browser_page

    # Log in through the form.
    log_in(page, live_server.url, "bea", "builder-pw-1")

    # Create a router.
    page.goto(f"{live_server.url}/routers/")
    page.click("text=+ New router")
    page.fill("#id_name", "Browser router")
    page.select_option("#id_primary_model", "demo/small")
    page.click("button:has-text('Create router')")
    expect(page.locator("h1")).to_have_text("Browser router")
    router = Router.objects.get(slug="browser-router")

    # A calculated rule; on the way, add a second condition row, re-shape it, remove it.
    page.click("text=+ Add rule")
    form = page.locator("#new-rule form")
    settled(form)
    form.locator("input[name=name]").fill("Code")
    form.locator(".cond-row input[type=text]").first.fill("python, bug")
    form.locator("button:has-text('+ Add condition')").click()
    expect(form.locator(".cond-row")).to_have_count(2)
    # htmx binds the new row's triggers while the swap settles (class htmx-added); a change
    # fired before that would be lost, which no person is fast enough to do.
    settled(form.locator(".cond-row").nth(1))
    form.locator(".cond-row").nth(1).locator("select.cond-property").select_option("time_of_day")
    expect(form.locator(".cond-row").nth(1).locator("input[type=time]")).to_have_count(2)
    form.locator(".cond-row").nth(1).locator("[data-remove-row]").click()
    expect(form.locator(".cond-row")).to_have_count(1)
    form.locator("select[name=target_model]").select_option("demo/coder")
    form.locator("button:has-text('Add rule')").click()
    expect(page.locator("#rules .rule")).to_have_count(1)
    expect(page.locator("#new-rule form")).to_have_count(0)

    # An LLM rule without a description first: the error shows inline and the name stays.
    page.click("text=+ Add rule")
    form = page.locator("#new-rule form")
    settled(form)
    form.locator("input[name=name]").fill("Legal")
    form.locator("label.kind-option:has-text('LLM-classified')").click()
    expect(form.locator("textarea[name=description]")).to_be_visible()
    form.locator("select[name=target_model]").select_option("demo/large")
    form.locator("button:has-text('Add rule')").click()
    expect(page.locator("#new-rule")).to_contain_text("Describe when this rule applies")
    form = page.locator("#new-rule form")
    expect(form.locator("input[name=name]")).to_have_value("Legal")
    form.locator("textarea[name=description]").fill("Questions about contracts, law or compliance.")
    form.locator("button:has-text('Add rule')").click()
    expect(page.locator("#rules .rule")).to_have_count(2)
    _shot(page, "1-rules")

    names = page.locator("#rules .rule-name")
    expect(names).to_have_text(["Code", "Legal"])

    # Drag "Legal" above "Code"; the new order is saved with one POST.
    _drag(
        page,
        page.locator("#rules .rule").nth(1).locator(".drag-handle"),
        page.locator("#rules .rule").nth(0),
        moved=page.locator("#rules .rule").nth(0),
    )
    expect(page.locator("#reorder-status")).to_contain_text("Order saved")
    expect(names).to_have_text(["Legal", "Code"])
    page.reload()
    expect(page.locator("#rules .rule-name")).to_have_text(["Legal", "Code"])
    assert list(router.rules.order_by("position").values_list("name", flat=True)) == [
        "Legal",
        "Code",
    ]
    _shot(page, "2-reordered")

    # The test panel names the rule that would answer, and why.
    page.fill(
        "#test-panel textarea[name=message]",
        "Please review this contract for compliance with the law",
    )
    page.click("#test-panel button:has-text('Route it')")
    expect(page.locator(".winner-name")).to_have_text("Legal")
    expect(page.locator(".classifier-line")).to_contain_text("Legal")
    _shot(page, "3-test-llm")

    page.fill("#test-panel textarea[name=message]", "my python code has a bug")
    page.click("#test-panel button:has-text('Route it')")
    expect(page.locator(".winner-name")).to_have_text("Code")
    expect(page.locator(".verdict.won")).to_contain_text("Code")
    _shot(page, "4-test-calculated")

    # One click disables a rule; the test panel then skips it.
    page.locator("#rules .rule").nth(1).locator("button.switch").click()
    expect(page.locator("#rules .rule").nth(1)).to_have_class("rule kind-calc is-off")
    page.click("#test-panel button:has-text('Route it')")
    expect(page.locator(".outcome-label")).to_have_text("No rule matched")

    assert errors == []
