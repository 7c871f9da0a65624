"""Markdown for chat messages, rendered on the server.

CommonMark (markdown-it-py) plus GFM tables and strikethrough; fenced code is highlighted by
Pygments into CSS classes (the stylesheet is static/css/code.css — CSP forbids inline styles).
What a model or a user writes is untrusted, so:

- raw HTML is never rendered: markdown-it's `html` option is off, so `<script>` shows as text;
- links keep only http(s), mailto and in-page/relative targets (markdown-it already refuses
  `javascript:`, `vbscript:`, `file:` and most `data:`), and open with `rel="noopener noreferrer
  nofollow"` in a new tab;
- images are not loaded (a model's answer could otherwise make the browser fetch any URL): an
  image becomes a link to it, showing its alt text.

The same function renders a finished answer and each step of a streaming one; an unclosed code
fence while streaming renders as a code block up to the end, which is what the reader expects.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

_SAFE_SCHEMES = {"http", "https", "mailto"}
_FORMATTER = HtmlFormatter(nowrap=True)
# Pygments is linear but not free: very long code blocks are shown plain rather than highlighted.
_MAX_HIGHLIGHT_CHARS = 50_000


def _highlight(code: str, lang: str, _attrs: str) -> str:
    if not lang or len(code) > _MAX_HIGHLIGHT_CHARS:
        return ""  # markdown-it escapes it itself
    try:
        lexer = get_lexer_by_name(lang, stripall=False)
    except ClassNotFound:
        return ""
    return highlight(code, lexer, _FORMATTER)


def _safe_url(url: str) -> bool:
    scheme = urlsplit(url.strip()).scheme.lower()
    return scheme == "" or scheme in _SAFE_SCHEMES


def _link_open(self: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    href = str(token.attrGet("href") or "")
    if not _safe_url(href):
        token.attrSet("href", "#")
    if not href.startswith("#"):
        token.attrSet("rel", "noopener noreferrer nofollow")
        token.attrSet("target", "_blank")
    return self.renderToken(tokens, idx, options, env)


def _image(self: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    if not _safe_url(src):
        return f"[{escape(alt)}]"
    return (
        f'<a href="{escape(src)}" rel="noopener noreferrer nofollow" target="_blank">'
        f"[image: {escape(alt)}]</a>"
    )


def _fence(self: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    lang = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
    code = token.content
    highlighted = _highlight(code, lang, "")
    body = highlighted or str(escape(code))
    label = escape(lang) if lang else "code"
    css = f' class="highlight language-{escape(lang)}"' if highlighted else ""
    return (
        '<div class="code-block">'
        f'<div class="code-head"><span>{label}</span>'
        '<button type="button" class="copy small" data-copy="code">Copy</button></div>'
        f"<pre{css}><code>{body}</code></pre></div>\n"
    )


def _table_open(self: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
    # Wide tables scroll inside the message instead of widening the page.
    return '<div class="table-wrap">' + self.renderToken(tokens, idx, options, env)


def _table_close(self: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
    return self.renderToken(tokens, idx, options, env) + "</div>"


@lru_cache(maxsize=2)
def _parser(breaks: bool) -> MarkdownIt:
    md = MarkdownIt(
        "commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": breaks}
    )
    md.enable(["table", "strikethrough"])
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("image", _image)
    md.add_render_rule("fence", _fence)
    md.add_render_rule("code_block", _fence)
    md.add_render_rule("table_open", _table_open)
    md.add_render_rule("table_close", _table_close)
    return md


def render_markdown(text: str, *, breaks: bool = False) -> SafeString:
    """HTML for `text`, safe to put in a page as is.

    `breaks`: a single newline is a line break (what people typing into a chat box mean);
    models write CommonMark, where it is not.
    """
    if not text:
        return mark_safe("")
    return mark_safe(_parser(breaks).render(text))  # noqa: S308 - html is off (module docstring)


class StreamingRender:
    """Re-renders a growing answer for the stream, but not after every token.

    Markdown cannot be rendered piecewise (a later line can turn earlier ones into a table), so
    each update is the whole answer so far. Rendering on every token would cost time quadratic
    in the answer's length; instead an update is due once the text has grown by `growth`
    (a fraction) or `interval` seconds have passed since the last one. `clock` is injectable.
    """

    def __init__(
        self,
        *,
        growth: float = 0.05,
        interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.text = ""
        self._rendered_len = 0
        self._rendered_at = clock()
        self._growth = growth
        self._interval = interval
        self._clock = clock

    def feed(self, delta: str) -> str | None:
        """Add `delta`; return the HTML of the whole text when an update is due, else None."""
        self.text += delta
        now = self._clock()
        grown = len(self.text) - self._rendered_len
        if grown <= 0:
            return None
        if grown >= self._rendered_len * self._growth or now - self._rendered_at >= self._interval:
            return self.flush()
        return None

    def flush(self) -> str:
        self._rendered_len = len(self.text)
        self._rendered_at = self._clock()
        return str(render_markdown(self.text))
