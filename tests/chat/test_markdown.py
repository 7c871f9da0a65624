"""Markdown in chat messages: CommonMark, tables, highlighted code, and nothing unsafe."""

from __future__ import annotations

import pytest

from chat.markdown import StreamingRender, render_markdown


def test_it_renders_commonmark_emphasis_lists_and_inline_code():
    html = render_markdown("Some **bold**, *italic* and `x = 1`.\n\n- one\n- two\n\n1. first")
    assert "<strong>bold</strong>" in html and "<em>italic</em>" in html
    assert "<code>x = 1</code>" in html
    assert "<ul>\n<li>one</li>" in html and "<ol>" in html


def test_fenced_code_is_highlighted_with_classes_and_gets_a_copy_button():
    html = render_markdown("```python\ndef f(x):\n    return x < 1\n```")
    assert '<pre class="highlight language-python">' in html
    assert '<span class="k">def</span>' in html  # Pygments token classes, styled by code.css
    assert "&lt;" in html  # the code is escaped inside the highlighting
    assert 'data-copy="code"' in html
    assert "style=" not in html  # CSP forbids inline styles


def test_code_in_an_unknown_language_is_shown_escaped_and_unhighlighted():
    html = render_markdown("```nosuchlang\n<b>hi</b>\n```")
    assert "&lt;b&gt;hi&lt;/b&gt;" in html
    assert "<b>" not in html
    assert "highlight" not in html


def test_gfm_tables_render_inside_a_scrolling_wrapper():
    html = render_markdown("| a | b |\n|---|---|\n| 1 | 2 |")
    assert '<div class="table-wrap"><table>' in html
    assert "<th>a</th>" in html and "<td>2</td>" in html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "<iframe src='https://example.invalid'></iframe>",
        "<div onclick='x()'>hi</div>",
    ],
)
def test_raw_html_is_shown_as_text_never_rendered(text):
    html = render_markdown(text)
    assert "<script" not in html and "<img" not in html and "<iframe" not in html
    assert "<div onclick" not in html
    assert "&lt;" in html


@pytest.mark.parametrize(
    "link",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "<javascript:alert(1)>",
    ],
)
def test_dangerous_links_never_become_clickable(link):
    html = render_markdown(link)
    assert 'href="javascript' not in html.lower()
    assert 'href="vbscript' not in html.lower()
    assert 'href="data:' not in html.lower()


def test_web_links_open_in_a_new_tab_without_referrer_or_opener():
    html = render_markdown("[docs](https://docs.example.invalid/a?b=1&c=2)")
    assert 'href="https://docs.example.invalid/a?b=1&amp;c=2"' in html
    assert 'rel="noopener noreferrer nofollow"' in html and 'target="_blank"' in html


def test_images_are_never_loaded_only_linked():
    html = render_markdown("![a cat](https://img.example.invalid/cat.png)")
    assert "<img" not in html
    assert 'href="https://img.example.invalid/cat.png"' in html and "[image: a cat]" in html


def test_typed_text_keeps_single_line_breaks():
    assert "<br" in render_markdown("line one\nline two", breaks=True)
    assert "<br" not in render_markdown("line one\nline two")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_streaming_answer_is_rerendered_whole_but_not_after_every_token():
    clock = FakeClock()
    render = StreamingRender(growth=0.5, interval=1.0, clock=clock)
    assert render.feed("Hello") is not None  # the first words show at once
    assert render.feed("!") is None  # grew by 1/5 < 50 % and no time passed
    clock.now += 1.0
    update = render.feed(" Here")
    assert update is not None and "Hello! Here" in update  # always the whole text so far
    assert render.feed("\n\n```py\nx = 1") is not None  # an unclosed fence: code so far
    assert '<pre class="highlight language-py">' in render.flush()


def test_a_partial_table_while_streaming_becomes_a_table_when_complete():
    render = StreamingRender(growth=0, interval=0)
    assert "<table>" not in (render.feed("| a | b |\n") or "")
    assert "<table>" in (render.feed("|---|---|\n| 1 | 2 |\n") or "")
