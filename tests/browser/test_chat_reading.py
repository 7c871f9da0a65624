"""A long chat read in a real browser, at a phone's and a laptop's width: it opens at its end,
a reader who scrolled up is not pulled down by a streaming answer and gets a "Latest" button,
a long code block keeps its Copy button in view, the message box grows with what is typed, and
the thread's picker and its chips follow `/model` and `/tier` at once. Every wait is on the
page's state, never on time."""

from __future__ import annotations

import pytest

from tests.api.conftest import live_url, uvicorn_server  # noqa: F401
from tests.browser.conftest import ARTIFACTS, CHROMIUM, broken_words, htmx_settled
from tests.browser.test_chat_ux import (  # noqa: F401 - fixtures
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

WIDTHS = [390, 1280]
LONG_CODE = "\n".join(
    f"    result_{i} = compute(argument_{i}, another_argument_{i}, keyword=value_{i})"
    for i in range(60)
)


def _long_thread(user):
    """15 questions with code and 15 answers with code: 30 messages, one long code block."""
    from chat.models import Message, MessageStatus, Thread, Workspace

    workspace = Workspace.objects.get(name="Demo: Model Router")
    thread = Thread.objects.create(workspace=workspace, owner=user, title="Thirty messages")
    for turn in range(15):
        body = LONG_CODE if turn == 7 else f"    return x / {turn}"
        Message.objects.create(
            thread=thread,
            role="user",
            content=f"Why does function {turn} fail?\n```python\ndef f{turn}(x):\n{body}\n```",
        )
        Message.objects.create(
            thread=thread,
            role="assistant",
            status=MessageStatus.COMPLETE,
            model_ref="demo/coder",
            content=(
                f"Answer {turn}: it divides by zero.\n\n```python\ndef f{turn}(x):\n"
                f"    return x / {turn + 1}\n```\n\n| input | result |\n| --- | --- |\n| 1 | ok |"
            ),
            routing={"source": "rule", "rule_name": "Code questions", "reason": "code"},
        )
    return thread


def _in_view(page, selector: str) -> bool:
    return page.evaluate(
        """sel => {
          const el = document.querySelector(sel);
          const box = document.getElementById('messages').getBoundingClientRect();
          const r = el.getBoundingClientRect();
          return r.bottom > box.top && r.top < box.bottom;
        }""",
        selector,
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_a_thirty_message_thread_reads_like_a_chat(demo, open_browser, width):  # noqa: F811
    from playwright.sync_api import expect

    base, user = demo
    thread = _long_thread(user)
    page, problems = open_browser(width)
    _login(page, base)
    page.goto(f"{base}/threads/{thread.pk}/")
    page.wait_for_load_state("load")
    messages = page.locator("#messages")
    expect(messages.locator(".msg")).to_have_count(30)
    # It opens at its end: the last answer is in view and there is nothing to jump to.
    last = messages.locator(".msg.assistant").last
    expect(last.locator(".badge")).to_be_in_viewport()
    jump = page.locator("[data-jump-latest]")
    expect(jump).to_be_hidden()
    _no_sideways_scroll(page)
    assert broken_words(page, "#messages .msg .content p, .thread-head, .badge") == []
    page.screenshot(path=str(ARTIFACTS / f"chat-long-end-{width}.png"))

    # The chat's menu (rename, delete) and the shortcuts help open whole on the screen.
    def opens_on_screen(popover: str) -> None:
        body = page.locator(popover)
        expect(body).to_be_visible()
        box = body.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (popover, box)
        page.keyboard.press("Escape")
        expect(body).to_be_hidden()

    page.click("summary.thread-title")
    opens_on_screen(".thread-menu .popover-body")
    page.locator("#messages").click(position={"x": 5, "y": 5})
    page.keyboard.press("?")
    opens_on_screen(".help .popover-body")

    # Scrolled up, the "Latest" button offers the way back.
    messages.evaluate("box => { box.scrollTop = 0; }")
    expect(jump).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / f"chat-long-top-{width}.png"))
    jump.click()
    expect(last.locator(".badge")).to_be_in_viewport()
    expect(jump).to_be_hidden()

    # Inside a long code block, its head (with Copy) stays at the top of the conversation.
    block = messages.locator(".msg.user .code-block", has_text="result_59")
    block.locator("pre").evaluate("pre => pre.scrollIntoView({block: 'center'})")
    expect(block.locator(".code-head [data-copy=code]")).to_be_in_viewport()
    block_top = block.evaluate("b => b.getBoundingClientRect().top")
    head_top = block.locator(".code-head").evaluate("h => h.getBoundingClientRect().top")
    box_top = messages.evaluate("box => box.getBoundingClientRect().top")
    # The block begins above the conversation's top edge; its head stays at that edge.
    assert block_top < box_top and abs(head_top - box_top) < 2, (block_top, box_top, head_top)
    page.screenshot(path=str(ARTIFACTS / f"chat-long-code-{width}.png"))
    _no_sideways_scroll(page)
    assert problems == [], "\n".join(problems)


def test_a_streaming_answer_leaves_a_reader_who_scrolled_up_where_they_are(
    demo,  # noqa: F811
    open_browser,  # noqa: F811
    monkeypatch,
):
    from playwright.sync_api import expect

    monkeypatch.setenv("DEMO_CHUNK_DELAY", "0.05")
    base, user = demo
    thread = _long_thread(user)
    page, problems = open_browser(390)
    _login(page, base)
    page.goto(f"{base}/threads/{thread.pk}/")
    page.wait_for_load_state("load")
    box = page.locator("form[data-composer] textarea")
    before = box.evaluate("area => area.clientHeight")
    box.fill("line one\nline two\nline three\nline four\nline five\nline six")
    page.wait_for_function(
        "h => document.querySelector('form[data-composer] textarea').clientHeight > h", arg=before
    )
    box.fill("Tell me everything about routers, at length please")
    box.press("Enter")
    streaming = page.locator("#messages .msg.assistant .content.streaming")
    expect(streaming).not_to_be_empty()
    # What was sent is in view, and the box is back to its size.
    expect(page.locator("#messages .msg.user").last).to_be_in_viewport()
    assert box.evaluate("area => area.clientHeight") == before
    page.locator("#messages").evaluate("box => { box.scrollTop = 0; }")
    expect(page.locator("[data-jump-latest]")).to_be_visible()
    expect(page.locator("#messages .msg.assistant").last.locator(".badge")).to_be_visible(
        timeout=30_000
    )
    assert page.locator("#messages").evaluate("box => box.scrollTop") == 0, "pulled down"
    assert _in_view(page, "#messages .msg.user")
    page.locator("[data-jump-latest]").click()
    expect(page.locator("#messages .msg.assistant").last.locator(".badge")).to_be_in_viewport()
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_picker_and_its_chips_follow_model_and_tier_at_once(demo, open_browser, width):  # noqa: F811
    from playwright.sync_api import expect

    base, user = demo
    thread = _long_thread(user)
    page, problems = open_browser(width)
    _login(page, base)
    page.goto(f"{base}/threads/{thread.pk}/")
    page.wait_for_load_state("load")
    picker = page.locator("#thread-model")
    box = page.locator("form[data-composer] textarea")
    expect(picker).to_have_value("auto")

    box.fill("/tier coding")
    box.press("Enter")
    expect(picker).to_have_value("tier:coding")
    expect(page.locator("#thread-picker .tier-chip")).to_have_text("tier coding")
    expect(page.locator("#thread-picker .pinned")).to_have_count(0)

    box.fill("/model demo/large")
    box.press("Enter")
    expect(picker).to_have_value("demo/large")
    expect(page.locator("#thread-picker .pinned")).to_be_visible()
    expect(page.locator("#thread-picker .tier-chip")).to_have_count(0)
    _no_sideways_scroll(page)
    page.screenshot(path=str(ARTIFACTS / f"chat-picker-pinned-{width}.png"))

    box.fill("/model auto")
    box.press("Enter")
    expect(picker).to_have_value("tier:coding")
    expect(page.locator("#thread-picker .tier-chip")).to_be_visible()

    # Picking in the picker is the same as the command: Auto undoes the tier too.
    htmx_settled(page)
    picker.select_option("auto")
    expect(page.locator("article.msg.note").last).to_contain_text("Back to automatic tiers")
    expect(picker).to_have_value("auto")
    expect(page.locator("#thread-picker .tier-chip")).to_have_count(0)
    htmx_settled(page)
    picker.select_option("tier:deep")
    expect(page.locator("#thread-picker .tier-chip")).to_have_text("tier deep")
    thread.refresh_from_db()
    assert thread.tier == "deep" and thread.override_model is None
    _no_sideways_scroll(page)
    page.screenshot(path=str(ARTIFACTS / f"chat-picker-tier-{width}.png"))
    assert problems == [], "\n".join(problems)
