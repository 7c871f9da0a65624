"""Tiers in a real browser, at a phone's and a laptop's width: the tier table is edited and
saved, the test panel routes to a tier and shows the classifier's judgement, the chat's
`/tier` command answers with that tier's model and the badge says so. No sideways scroll,
no console errors."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.api.conftest import live_url, uvicorn_server  # noqa: F401
from tests.browser.conftest import ARTIFACTS, CHROMIUM
from tests.browser.test_chat_ux import (  # noqa: F401 - fixtures
    PASSWORD,
    _login,
    _no_sideways_scroll,
    open_browser,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary found (apt-get install chromium)"
    ),
]


@pytest.fixture
def demo(live_url, django_user_model):  # noqa: F811
    user = django_user_model.objects.create_user(
        username="admin", password=PASSWORD, role="admin", is_staff=True, is_superuser=True
    )
    call_command("seed_demo", owner="admin", verbosity=0)
    return live_url, user


@pytest.mark.parametrize("width", [390, 1280])
def test_tiers_on_the_router_page_the_test_panel_and_in_chat(demo, open_browser, width):  # noqa: F811
    from playwright.sync_api import expect

    from chat.models import Workspace
    from routers.models import Router

    base, _ = demo
    router = Router.objects.get(slug="demo")
    page, problems = open_browser(width)
    _login(page, base)
    page.goto(f"{base}/routers/{router.pk}/#tiers")
    card = page.locator("#tiers")
    expect(card.locator("h2")).to_have_text("Tiers")
    rows = card.locator("tbody tr")
    # balanced → demo/small, coding → demo/coder, deep → demo/large; smart stays unset.
    rows.nth(0).locator("select[name=tier_model]").select_option("demo/small")
    rows.nth(2).locator("select[name=tier_model]").select_option("demo/coder")
    rows.nth(3).locator("select[name=tier_model]").select_option("demo/large")
    card.locator("select[name=default_tier]").select_option("balanced")
    card.locator("input[name=escalation]").check()
    card.locator("button[type=submit]", has_text="Save tiers").click()
    # The page is already at …/#tiers: waiting for that URL would not wait for the save. The
    # redirected page's note comes only once it is stored.
    expect(page.locator(".flash")).to_contain_text("Tiers saved to the draft.")
    page.wait_for_load_state("load")  # htmx drives the Publish button below
    router.refresh_from_db()
    assert router.default_tier == "balanced" and router.escalation
    # The tier table edits the draft; chat routes with the published version.
    page.locator("#router-version button[type=submit]", has_text="Publish").click()
    expect(page.locator("#router-version")).to_contain_text("Published v2")
    assert [t["model"] for t in router.tiers] == ["demo/small", "", "demo/coder", "demo/large"]
    _no_sideways_scroll(page)
    page.screenshot(path=str(ARTIFACTS / f"tiers-router-{width}.png"), full_page=True)

    panel = page.locator("#test-panel")
    panel.locator("textarea[name=message]").fill("hello there")
    panel.locator("select[name=tier]").select_option("deep")
    panel.locator("button[type=submit]").click()
    expect(panel.locator(".tier-line")).to_contain_text("deep")
    expect(panel.locator(".outcome-model")).to_contain_text("demo/large")
    _no_sideways_scroll(page)
    page.screenshot(path=str(ARTIFACTS / f"tiers-test-panel-{width}.png"), full_page=True)

    workspace = Workspace.objects.get(router=router)
    page.goto(f"{base}/workspaces/{workspace.pk}/")
    box = page.locator("form.composer textarea[name=text]")
    page.wait_for_load_state("load")
    box.fill("/tier coding")
    box.press("Enter")
    # The first message of a thread opens the thread's page: type into it only once it has
    # loaded (app.js makes Enter send; before that, Enter would type a new line).
    page.wait_for_url(f"{base}/threads/*/")
    expect(page.locator("article.msg.note").last).to_contain_text("coding")
    box.fill("hello, which tier answers?")
    box.press("Enter")
    expect(page.locator("[data-tier]").last).to_contain_text("tier coding", timeout=20_000)
    _no_sideways_scroll(page)
    page.screenshot(path=str(ARTIFACTS / f"tiers-chat-{width}.png"), full_page=True)
    assert problems == [], "\n".join(problems)
