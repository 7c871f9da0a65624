"""Golden set and replay pages in a real browser at phone and desktop widths: add a case, run
it (a rule case and a tier case), estimate and run a replay and watch it finish. Each page is checked for sideways scrolling
and console errors; screenshots go to test-artifacts/."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.conftest import live_url, uvicorn_server  # noqa: F401
from tests.browser.conftest import ARTIFACTS, CHROMIUM, broken_words
from tests.browser.test_chat_ux import (  # noqa: F401
    WIDTHS,
    _login,
    _no_sideways_scroll,
    demo,
    open_browser,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary found (apt-get install chromium)"
    ),
]


def _shot(page, name: str, width: int) -> None:
    page.screenshot(path=str(ARTIFACTS / f"evaluation-{name}-{width}.png"), full_page=True)


def _log(router, user, text: str, rule: str, model: str) -> None:
    from django.utils import timezone

    from chat.models import Message, Thread, Workspace
    from decisions.models import RoutingDecision

    workspace = Workspace.objects.filter(router=router).first() or Workspace.objects.create(
        name="Logged", owner=user, mode="router", router=router
    )
    thread = Thread.objects.create(workspace=workspace, owner=user)
    Message.objects.create(thread=thread, role="user", content=text)
    answer = Message.objects.create(thread=thread, role="assistant", content="ok", model_ref=model)
    RoutingDecision.objects.create(
        router=router,
        router_version=1,
        rule_name=rule,
        source="rule",
        model_ref=model,
        input_tokens=500,
        output_tokens=800,
        user=user,
        workspace_id=workspace.pk,
        message_id=answer.pk,
        created_at=timezone.now() - timedelta(hours=2),
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_golden_set_and_replay_in_the_browser(demo, open_browser, width):  # noqa: F811
    from playwright.sync_api import expect

    from routers import services
    from routers.models import Router

    base, user = demo
    router = Router.objects.get(slug="demo")
    code = router.rules.get(name="Code questions")
    services.rule_update(rule=code, target_tier="coding", actor=user)
    _log(router, user, "My python function throws a stack trace", "Code questions", "demo/coder")
    _log(router, user, "What is the capital of France?", "Everyday questions", "demo/small")
    page, problems = open_browser(width)
    _login(page, base)

    page.goto(f"{base}/routers/{router.pk}/golden/")
    page.click("text=Add a case")
    page.fill("#id_message", "my python code has a bug")
    page.fill("#id_expected", "Code questions")
    page.click("button:has-text('Add case')")
    expect(page.locator(".golden-cases li")).to_have_count(1)
    page.locator(".recent-decisions li").first.locator("button").first.click()
    expect(page.locator(".golden-cases li")).to_have_count(2)
    page.click("text=Add a case")
    page.fill("#id_message", "fix this python stack trace")
    page.select_option("#id_expect", "tier")
    page.fill("#id_expected", "coding")
    page.click("button:has-text('Add case')")
    expect(page.locator(".golden-cases li")).to_have_count(3)
    expect(page.locator(".golden-cases li").last).to_contain_text("tier coding")
    page.click("button:has-text('Run 3 cases')")
    expect(page.locator(".golden-summary")).to_contain_text("3 passed, 0 failed")
    expect(page.locator(".golden-results tbody tr").last).to_contain_text("tier coding")
    expect(page.locator(".confusion")).to_be_visible()
    # The matrix scrolls inside its card; its rule names never break mid-word.
    assert broken_words(page, ".confusion th") == []
    _no_sideways_scroll(page)
    _shot(page, "golden", width)

    page.goto(f"{base}/routers/{router.pk}/replays/")
    page.click("button:has-text('Estimate')")
    expect(page.locator("#replay-estimate")).to_contain_text("2 logged messages")
    _no_sideways_scroll(page)
    page.click("button:has-text('Start replay')")
    page.wait_for_url(f"{base}/routers/{router.pk}/replays/*/")
    expect(page.locator("#replay-progress")).to_contain_text("Decisions that change")
    _no_sideways_scroll(page)
    _shot(page, "replay", width)
    assert problems == []
