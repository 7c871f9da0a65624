from __future__ import annotations

from django import template

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
