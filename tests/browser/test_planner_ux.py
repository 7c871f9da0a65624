"""The planner's surfaces in a real browser (issue 10): the composer preview says what sending
will do — a per-message pick included — and a bad condition is shown next to its row with the
engine's words. At 390 and 1280 px: no sideways scroll, no console errors."""

from __future__ import annotations

import pytest

from tests.api.conftest import live_url, uvicorn_server  # noqa: F401 - fixtures
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_builder import settled
from tests.browser.test_chat_ux import (  # noqa: F401 - fixtures
    WIDTHS,
    _login,
    _no_sideways_scroll,
    demo,
    open_browser,
)
from tests.browser.test_chat_ux import pytestmark as _marks

pytestmark = _marks


def _shot(page, name: str, width: int) -> None:
    page.screenshot(path=str(ARTIFACTS / f"planner-{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_preview_says_what_sending_will_do(demo, open_browser, width):  # noqa: F811
    from playwright.sync_api import expect

    base, _ = demo
    page, problems = open_browser(width)
    _login(page, base)
    page.click("text=Demo: Model Router")
    page.wait_for_load_state("load")
    composer = page.locator("form[data-composer] textarea")
    composer.fill("my python code crashes with a traceback")
    preview = page.locator("#route-preview")
    expect(preview).to_contain_text("rule “Code questions”")
    _shot(page, "preview-rule", width)

    # A model picked for this one message: the preview names it, and no rule.
    page.select_option("#once-model", "demo/large")
    composer.fill("my python code crashes with a traceback, again")
    expect(preview).not_to_contain_text("rule “")
    expect(preview).to_contain_text("Large")
    expect(preview).to_contain_text("for this message only")
    _no_sideways_scroll(page)
    _shot(page, "preview-pick", width)
    assert problems == []


@pytest.mark.parametrize("width", WIDTHS)
def test_a_bad_condition_is_shown_at_its_row_with_the_engines_words(
    demo,  # noqa: F811
    open_browser,  # noqa: F811
    width,
):
    from playwright.sync_api import expect

    from routers.models import Router

    base, _ = demo
    page, problems = open_browser(width)
    _login(page, base)
    router = Router.objects.get(slug="demo")
    page.goto(f"{base}/routers/{router.pk}/")
    page.click("text=+ Add rule")
    form = page.locator("#new-rule form")
    # htmx binds the new form's triggers (the property select's re-render) as the swap
    # settles; a change made before that would be lost.
    settled(form)
    form.locator("input[name=name]").fill("Broken")
    form.locator(".cond-row").first.locator("select").first.select_option("regex")
    # The row is re-rendered for the regex property (htmx): fill it once it is back.
    # The keywords row's input is named like the regex one: wait for the regex row's own
    # placeholder, or the text goes into the input about to be replaced.
    row = page.locator("#new-rule .cond-row").first
    pattern = row.locator("input[type=text][placeholder*='A-Z']")
    expect(pattern).to_be_visible()
    settled(row)
    pattern.fill("(unclosed")
    expect(pattern).to_have_value("(unclosed")
    form.locator("select[name=target_model]").select_option("demo/large")
    form.locator("button[type=submit]").first.click()
    expect(page.locator("#new-rule .cond-row").first).to_contain_text(
        "Regex: unbalanced parenthesis"
    )
    _no_sideways_scroll(page)
    _shot(page, "rule-error", width)
    assert problems == [] or all("422" in p for p in problems), problems
