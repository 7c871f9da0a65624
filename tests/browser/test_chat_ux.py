"""The chat, the router page and analytics in a real browser at phone and desktop widths.

Served by uvicorn (ASGI) in a thread of the test process, as in production, so answers really
stream. Each page is checked for horizontal overflow (the page must never scroll sideways) and
for console errors (CSP violations and htmx warnings included). Screenshots go to
test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.core.management import call_command

from tests.api.conftest import live_url, uvicorn_server  # noqa: F401
from tests.browser.conftest import ARGS, ARTIFACTS, CHROMIUM, htmx_settled, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary found (apt-get install chromium)"
    ),
]

WIDTHS = [390, 1280]
PASSWORD = "chat-ux-pw-1"
CODE_MESSAGE = (
    "My python code crashes:\n```python\nimport sys\n\ndef main(argv):\n    return 0\n```"
)


@pytest.fixture
def demo(live_url, django_user_model):  # noqa: F811 - the fixture imported above
    user = django_user_model.objects.create_user(
        username="admin", password=PASSWORD, role="admin", is_staff=True, is_superuser=True
    )
    call_command("seed_demo", owner="admin", verbosity=0)
    return live_url, user


@pytest.fixture
def open_browser():
    """open_browser(width) → (page, problems): console errors and page errors are collected."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)

        def open_page(width: int):
            page = browser.new_page(viewport={"width": width, "height": 860})
            problems: list[str] = []
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.set_default_timeout(15_000)
            return page, problems

        yield open_page
        browser.close()


def _login(page, base: str) -> None:
    log_in(page, base, "admin", PASSWORD)


def _no_sideways_scroll(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def _shot(page, name: str, width: int) -> None:
    page.screenshot(path=str(ARTIFACTS / f"chat-ux-{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_chat_renders_markdown_with_highlighted_code_and_fits_the_screen(demo, open_browser, width):
    from playwright.sync_api import expect

    base, _ = demo
    page, problems = open_browser(width)
    _login(page, base)
    page.click("text=Demo: Model Router")
    # Enter sends only once app.js has run; before that it would type a newline.
    page.wait_for_load_state("load")
    page.fill("form[data-composer] textarea", CODE_MESSAGE)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/threads/*/")
    answer = page.locator("#messages .msg.assistant").last
    expect(answer.locator(".badge")).to_be_visible()
    # The demo echoes the code back as a fenced block: rendered, highlighted, copyable.
    code = answer.locator(".code-block pre.highlight")
    expect(code.locator("span.kn", has_text="import")).to_be_visible()
    expect(answer.locator(".code-block [data-copy=code]")).to_be_visible()
    assert "```" not in answer.locator(".content").inner_text()
    # The user's own message is markdown too.
    expect(page.locator("#messages .msg.user pre.highlight").first).to_be_visible()
    _no_sideways_scroll(page)
    _shot(page, "thread", width)

    if width < 760:
        # The thread list is a drawer, the nav a menu: both reachable, neither in the way.
        drawer = page.locator("#thread-drawer")
        assert not drawer.locator(".threads a").first.is_visible() or drawer.bounding_box()["x"] < 0
        page.click("[data-drawer-toggle]")
        expect(drawer.locator(".threads a").first).to_be_in_viewport()
        _shot(page, "drawer", width)
        page.keyboard.press("Escape")
        page.click("[data-nav-toggle]")
        expect(page.locator(".topbar nav a", has_text="API tokens")).to_be_in_viewport()
        expect(page.locator(".topbar .logout button")).to_be_in_viewport()
        _no_sideways_scroll(page)
    assert problems == []


@pytest.fixture
def held_answers(monkeypatch):
    """The simulated model (served in this process) holds each answer after its first word
    until the returned event is set; once set, answers run straight through."""
    from providers.adapters.base import TextDelta
    from providers.adapters.demo import DemoAdapter

    release = threading.Event()
    stream = DemoAdapter.stream

    async def held(self, request):
        first = not request.structured
        async for event in stream(self, request):
            yield event
            if first and isinstance(event, TextDelta):
                first = False
                await asyncio.to_thread(release.wait, 60)

    monkeypatch.setattr(DemoAdapter, "stream", held)
    yield release
    release.set()


def test_stop_keeps_the_partial_answer_and_regenerate_answers_again(
    demo, open_browser, held_answers
):
    from playwright.sync_api import expect

    base, _ = demo
    page, problems = open_browser(1280)
    _login(page, base)
    page.click("text=Demo: one model")
    # Enter sends only once app.js has run; before that it would type a newline.
    page.wait_for_load_state("load")
    page.fill("form[data-composer] textarea", "Tell me everything about routers")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/threads/*/")
    streaming = page.locator("#messages .msg.assistant .content.streaming")
    expect(streaming).not_to_be_empty()
    # Stop is pressed mid-answer (the model holds after its first word), and the model goes
    # on only once the server has the stop: the answer stops there, on a fast or slow machine.
    with page.expect_response(lambda r: "/stop/" in r.url and r.ok):
        page.click("[data-stop]")
    held_answers.set()
    answer = page.locator("#messages .msg.assistant").last
    expect(answer.locator("text=Stopped by you")).to_be_visible()
    kept = answer.locator(".content").inner_text()
    assert kept.startswith("[Simulated answer")
    assert "Configure a real provider" not in kept, "the answer was cut short"
    _shot(page, "stopped", 1280)

    # The final row was swapped in: its regenerate form answers once htmx has processed it.
    htmx_settled(page)
    answer.locator("form.regenerate button").click()
    answer = page.locator("#messages .msg.assistant").last
    expect(answer.locator(".badge")).to_be_visible()
    expect(answer.locator(".content")).to_contain_text("Configure a real provider")
    expect(answer.locator("text=Stopped by you")).to_have_count(0)
    assert page.locator("#messages .msg.assistant").count() == 1, "replaced, not added"
    _shot(page, "regenerated", 1280)
    assert problems == []


def _routed_traffic(router) -> None:
    """A few days of decisions, small costs included (they once made the axis repeat labels)."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from decisions.models import RoutingDecision

    now = timezone.now()
    for day in range(5):
        for n, (rule, model) in enumerate([("Code questions", "demo/coder"), ("", "demo/large")]):
            RoutingDecision.objects.create(
                router=router,
                created_at=now - timedelta(days=day, minutes=n),
                source="rule" if rule else "primary",
                rule_name=rule,
                model_ref=model,
                answered_by=model,
                cost=Decimal("0.0021"),
                primary_cost=Decimal("0.0045"),
                reason="seeded",
            )


@pytest.mark.parametrize("width", WIDTHS)
def test_router_page_and_analytics_fit_the_screen(demo, open_browser, width):
    from playwright.sync_api import expect

    from routers.models import Router

    base, _ = demo
    router = Router.objects.get(slug="demo")
    _routed_traffic(router)
    page, problems = open_browser(width)
    _login(page, base)
    page.goto(f"{base}/routers/{router.pk}/")
    expect(page.locator("h1")).to_have_text(router.name)
    _no_sideways_scroll(page)
    _shot(page, "router", width)
    page.goto(f"{base}/routers/{router.pk}/analytics/")
    expect(page.locator("canvas").first).to_be_visible()
    _no_sideways_scroll(page)
    # The cumulative-cost axis (up to ~$0.045 in steps of $0.005) never repeats a label.
    labels = page.evaluate(
        "Chart.getChart(document.getElementById('chart-cost')).scales.y.ticks.map(t => t.label)"
    )
    assert len(labels) > 2 and len(set(labels)) == len(labels), labels
    _shot(page, "analytics", width)
    assert problems == []


PAGES = [
    "/",
    "/workspaces/new/",
    "/account/tokens/",
    "/manage/people/",
    "/manage/people/new/",
    "/manage/audit/",
    "/providers/",
    "/providers/{provider}/",
    "/routers/",
    "/routers/new/",
    "/routers/import/",
    "/workspaces/{workspace}/edit/",
    "/workspaces/{workspace}/members/",
    "/manage/budgets/",
    "/manage/budgets/new/",
    "/policies/",
    "/policies/new/",
    "/spend/",
    "/preferences/",
    "/routers/templates/tiers/",
    "/routers/{router}/versions/",
    "/routers/{router}/golden/",
    "/routers/{router}/replays/",
    "/routers/{router}/experiments/",
    "/routers/{router}/preferences/",
    "/routers/{router}/rules/new/",
]

# Cards, tables and sections that are the page's own blocks, flush against the one before.
FLUSH_JS = """() => [...document.querySelectorAll('main.page > *')].filter(el => {
  const prev = el.previousElementSibling;
  if (!prev || !prev.getBoundingClientRect().height || !el.getBoundingClientRect().height) return false;
  const boxed = e => e.matches('.card, .table, table, section');
  return (boxed(el) || boxed(prev))
    && Math.abs(el.getBoundingClientRect().top - prev.getBoundingClientRect().bottom) < 1;
}).map(el => el.tagName.toLowerCase() + '.' + el.className)"""


# Menu labels the browser broke over two lines ("Audit" above "log"), where the menu is shown.
SPLIT_LABELS_JS = """() => [...document.querySelectorAll('.topbar nav a, .topbar .who')]
  .filter(a => { const r = document.createRange(); r.selectNodeContents(a);
                 return r.getClientRects().length > 1; })
  .map(a => a.textContent.trim())"""


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_of_the_menu_fits_the_screen_without_console_errors(demo, open_browser, width):
    from chat.models import Workspace
    from providers.models import Provider
    from routers.models import Router

    base, _ = demo
    ids = {
        "provider": Provider.objects.get(slug="demo").pk,
        "workspace": Workspace.objects.order_by("pk").first().pk,
        "router": Router.objects.get(slug="demo").pk,
    }
    page, problems = open_browser(width)
    _login(page, base)
    for path in PAGES:
        page.goto(base + path.format(**ids))
        page.wait_for_load_state("networkidle")
        assert page.locator(".topbar").count() == 1, path
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width}px"
        assert page.evaluate(FLUSH_JS) == [], f"{path}: blocks flush against each other"
        assert page.evaluate(SPLIT_LABELS_JS) == [], f"{path}: a menu label breaks over two lines"
    _shot(page, "last-page", width)
    assert problems == []


def test_the_workspace_form_shows_only_the_list_its_mode_uses(demo, open_browser):
    from playwright.sync_api import expect

    from chat.models import Workspace

    base, _ = demo
    page, problems = open_browser(390)
    _login(page, base)
    page.goto(f"{base}/workspaces/new/")
    # A router exists (the demo's), so Model Router is preselected and only its list shows.
    expect(page.locator("input[name=mode][value=router]")).to_be_checked()
    expect(page.locator("#id_router")).to_be_visible()
    expect(page.locator("#id_model")).to_be_hidden()
    page.check("input[name=mode][value=model]")
    expect(page.locator("#id_model")).to_be_visible()
    expect(page.locator("#id_router")).to_be_hidden()
    page.select_option("#id_model", label="Demo Large (simulated) (demo/large)")
    page.check("input[name=mode][value=router]")
    page.fill("#id_name", "From the phone")
    page.select_option("#id_router", index=1)
    page.click("button:has-text('Save')")
    page.wait_for_url(f"{base}/workspaces/*/")
    workspace = Workspace.objects.get(name="From the phone")
    # The model picked while "One model" was chosen was not sent: nothing to drop silently.
    assert workspace.mode == "router" and workspace.router_id and workspace.model_id is None
    assert problems == []
