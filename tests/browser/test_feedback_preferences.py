"""Feedback, suggested preferences and the preferences pages in a real browser, at phone and
desktop widths: no sideways scrolling, no console errors (CSP included)."""

from __future__ import annotations

import pytest
from django.utils import timezone

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
    page.screenshot(path=str(ARTIFACTS / f"learning-{name}-{width}.png"), full_page=True)


def _send(page, text: str):
    from playwright.sync_api import expect

    page.fill("form[data-composer] textarea", text)
    page.keyboard.press("Enter")
    answer = page.locator("#messages .msg.assistant").last
    expect(answer.locator(".badge")).to_be_visible()
    return answer


@pytest.mark.parametrize("width", WIDTHS)
def test_rate_an_answer_accept_a_suggestion_and_see_your_preference(
    demo,  # noqa: F811 - the fixture imported above
    open_browser,  # noqa: F811
    width,
):
    from playwright.sync_api import expect

    from preferences.models import Preference, Suggestion
    from routers.models import Router

    base, user = demo
    router = Router.objects.get(slug="demo")
    page, problems = open_browser(width)
    _login(page, base)
    page.click("text=Demo: Model Router")
    page.wait_for_load_state("load")
    answer = _send(page, "My python function throws a stack trace")
    page.wait_for_url(f"{base}/threads/*/")
    answer = page.locator("#messages .msg.assistant").last
    expect(answer.locator(".badge")).to_contain_text("Code questions")

    answer.locator("button[aria-label='Bad answer']").click()
    expect(answer.locator("button[aria-label='Bad answer']")).to_have_attribute(
        "aria-pressed", "true"
    )
    answer.locator(".feedback-reason input[name=reason]").fill("Missed the point")
    answer.locator(".feedback-reason button[type=submit]").click()
    expect(answer.locator(".feedback-reason summary")).to_contain_text("Why: Missed the point")
    _no_sideways_scroll(page)
    _shot(page, "feedback", width)

    # A pattern of overrides (as five regenerations would make): the chat suggests it.
    Suggestion.objects.create(
        user=user,
        router=router,
        rule=router.rules.get(name="Code questions"),
        model_ref="demo/large",
        evidence={"messages": 6, "moved": 4, "regenerated": 3, "pinned": 0, "sent": 1},
        created_at=timezone.now(),
    )
    page.reload()
    suggestion = page.locator("[data-suggestion]")
    expect(suggestion).to_contain_text("Always answer “Code questions” with demo/large?")
    expect(suggestion).to_contain_text("3 regenerated with it, 1 sent to it")
    _no_sideways_scroll(page)
    _shot(page, "suggestion", width)
    suggestion.locator("text=Use it for this rule").click()
    expect(page.locator("#suggestion-slot")).to_contain_text("now answers you with")
    assert Preference.objects.filter(user=user, model__model_id="large").exists()

    answer = _send(page, "Another python stack trace, please")
    expect(answer.locator(".badge-preference")).to_have_text("your preference")
    expect(answer.locator(".badge-model")).to_contain_text("Large")
    _no_sideways_scroll(page)
    _shot(page, "your-preference", width)

    for path, name in (
        ("/preferences/", "my-preferences"),
        (f"/routers/{router.pk}/preferences/", "router-preferences"),
        (f"/routers/{router.pk}/analytics/", "analytics-feedback"),
    ):
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        _shot(page, name, width)
        _no_sideways_scroll(page)
    expect(page.locator("[data-feedback-analytics]")).to_contain_text("Code questions")
    assert problems == []


@pytest.mark.parametrize("width", WIDTHS)
def test_start_an_experiment_compare_the_arms_and_publish_the_winner(
    demo,  # noqa: F811
    open_browser,  # noqa: F811
    width,
):
    from playwright.sync_api import expect

    from experiments.models import Experiment
    from routers import services
    from routers.models import Router

    base, user = demo
    router = Router.objects.get(slug="demo")
    rule = router.rules.get(name="Code questions")
    services.rule_update(rule=rule, target_model="demo/large", actor=user)
    page, problems = open_browser(width)
    _login(page, base)
    page.goto(f"{base}/routers/{router.pk}/")
    page.click("text=or as an experiment…")
    expect(page.locator("h1")).to_have_text("Experiments")
    page.select_option("#exp-variant", "draft")
    page.fill("#exp-percent", "10")
    page.fill("#exp-name", "Large for code")
    _no_sideways_scroll(page)
    _shot(page, "experiment-start", width)
    page.click("text=Start the experiment")
    running = page.locator("[data-experiment-running]")
    expect(running).to_contain_text("10% of traffic routes with v2")
    expect(running.locator("[data-arms]")).to_contain_text("Cost per message")
    _no_sideways_scroll(page)
    _shot(page, "experiment-running", width)
    page.click("text=Publish v2 (the variant)")
    expect(page.locator("body")).to_contain_text("v2 is now the published version")
    _no_sideways_scroll(page)
    _shot(page, "experiment-ended", width)
    router.refresh_from_db()
    assert router.published_version.number == 2
    assert Experiment.objects.get().outcome == "variant"
    assert problems == []
