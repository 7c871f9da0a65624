"""Templates and profiles in a real browser at phone and desktop widths: the new-router page
offers the templates, a template's page shows its bindings and examples and creates the router,
the test panel explains a profile's choice, the chat badge names the profile, and a workspace
gets a type. Each page is checked for sideways scrolling and console errors; screenshots go to
test-artifacts/."""

from __future__ import annotations

import pytest

from tests.api.conftest import live_url, uvicorn_server  # noqa: F401
from tests.browser.conftest import ARTIFACTS, CHROMIUM
from tests.browser.test_chat_ux import WIDTHS, _login, _no_sideways_scroll, demo, open_browser  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary found (apt-get install chromium)"
    ),
]


def _shot(page, name: str, width: int) -> None:
    page.screenshot(path=str(ARTIFACTS / f"templates-{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_templates_profiles_and_workspace_context_in_the_browser(demo, open_browser, width):  # noqa: F811
    from playwright.sync_api import expect

    from chat.models import Workspace
    from routers.models import Router

    base, _ = demo
    page, problems = open_browser(width)
    _login(page, base)

    page.goto(f"{base}/routers/new/")
    expect(page.locator(".template-card")).to_have_count(5)
    _no_sideways_scroll(page)
    _shot(page, "new", width)

    page.locator('[data-template="hybrid"] a.button').click()
    page.wait_for_url(f"{base}/routers/templates/hybrid/")
    expect(page.locator('[data-role="small"]')).to_contain_text("demo/small")
    expect(page.locator(".template-examples")).to_contain_text("hello there!")
    _no_sideways_scroll(page)
    _shot(page, "hybrid", width)
    page.fill("#id_slug", f"my-hybrid-{width}")
    page.click("button:has-text('Create router')")
    page.wait_for_url(f"{base}/routers/*/")
    created = Router.objects.get(slug=f"my-hybrid-{width}")
    expect(page.locator(".rule")).to_have_count(created.rules.count())

    profiles = Router.objects.get(slug="demo-profiles")
    page.goto(f"{base}/routers/{profiles.pk}/")
    expect(page.locator("[data-profile-target]").first).to_be_visible()
    page.fill("#test-panel textarea[name=message]", "Write a short poem about autumn rain")
    page.click("#test-panel button:has-text('Route it')")
    result = page.locator("[data-profile-result]")
    expect(result).to_contain_text("creative")
    expect(result).to_contain_text("family demo (preferred #1)")
    _no_sideways_scroll(page)
    _shot(page, "test-panel", width)

    page.goto(f"{base}/workspaces/new/")
    page.fill("#id_name", f"Writers {width}")
    page.check("input[name=mode][value=router]")
    page.select_option("#id_router", str(profiles.pk))
    page.select_option("#id_workspace_type", "writing")
    _no_sideways_scroll(page)
    page.click("button:has-text('Save')")
    page.wait_for_url(f"{base}/workspaces/*/")
    assert Workspace.objects.get(name=f"Writers {width}").workspace_type == "writing"
    page.wait_for_load_state("load")
    page.fill("form[data-composer] textarea", "Write a haiku about the sea")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/threads/*/")
    answer = page.locator("#messages .msg.assistant").last
    expect(answer.locator("[data-profile]")).to_contain_text("profile “creative”")
    answer.locator("summary", has_text="Why this model?").click()
    expect(answer.locator("[data-profile-detail]")).to_be_visible()
    _no_sideways_scroll(page)
    _shot(page, "badge", width)
    assert problems == []
