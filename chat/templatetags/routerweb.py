from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from chat.markdown import render_markdown

register = template.Library()

_STATUS = {
    "matched": "matched",
    "no_match": "no match",
    "disabled": "disabled",
    "not_reached": "not reached",
    "offered": "offered to classifier",
    "classifier_chose": "chosen by classifier",
    "classifier_rejected": "not chosen by classifier",
}


@register.filter
def verdict_label(status: str) -> str:
    return _STATUS.get(status, status.replace("_", " "))


_TIER_SOURCE = {
    "user": "you chose it",
    "workspace": "the workspace's tier",
    "rule": "chosen by the rule",
    "escalation": "escalated by the classifier",
    "default": "the router's default",
}


@register.filter
def tier_source_label(source: str | None) -> str:
    """Why a turn used its tier, for the badge and the test panel."""
    return _TIER_SOURCE.get(source or "", source or "")


@register.filter
def markdown(text: str) -> SafeString:
    """An answer's markdown as safe HTML (raw HTML in it is shown as text, never rendered)."""
    return render_markdown(text or "")


@register.filter
def markdown_typed(text: str) -> SafeString:
    """What a person typed: markdown, where a single newline is a line break."""
    return render_markdown(text or "", breaks=True)
