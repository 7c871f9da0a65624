"""Drafts and versions in a real browser at phone and desktop widths: an edit shows the draft
badge, the diff page says what changes, Publish makes v2, the versions page rolls back. Each
page is checked for sideways scrolling and console errors; screenshots go to test-artifacts/."""

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
    page.screenshot(path=str(ARTIFACTS / f"versions-{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_edit_compare_publish_and_roll_back_in_the_browser(demo, open_browser, width):  # noqa: F811
    from playwright.sync_api import expect

    from routers.models import Router

    base, _ = demo
    router = Router.objects.get(slug="demo")
    page, problems = open_browser(width)
    _login(page, base)
    page.goto(f"{base}/routers/{router.pk}/")
    status = page.locator("#router-version")
    expect(status).to_contain_text("Published v1")
    expect(status).not_to_contain_text("unpublished")

    # Switching a rule off edits the draft: the header says so at once.
    page.locator(".rule").first.locator("button.switch").click()
    expect(status).to_contain_text("Draft — unpublished changes")
    _no_sideways_scroll(page)
    _shot(page, "draft", width)

    page.click("text=What changes?")
    page.wait_for_url(f"{base}/routers/{router.pk}/compare/")
    expect(page.locator("h1")).to_contain_text("From v1 (published) to the draft")
    expect(page.locator(".diff-table").first).to_contain_text("enabled")
    _no_sideways_scroll(page)
    _shot(page, "compare", width)

    page.goto(f"{base}/routers/{router.pk}/")
    status.locator("button", has_text="Publish").click()
    expect(status).to_contain_text("Published v2")
    expect(status).not_to_contain_text("unpublished")

    page.goto(f"{base}/routers/{router.pk}/versions/")
    expect(page.locator("#version-2")).to_contain_text("published")
    _no_sideways_scroll(page)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#version-1 button", has_text="Roll back to v1").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#version-3")).to_contain_text("Rollback to v1")
    expect(page.locator("#version-3")).to_contain_text("published")
    _no_sideways_scroll(page)
    _shot(page, "versions", width)
    assert Router.objects.get(pk=router.pk).published_version.number == 3
    assert problems == []
