"""Task category and complexity: what the classifier judges about a message besides LLM rules.

Calculated rules test them like any property (`category = code`, `complexity ≥ medium`).
They cost nothing until a rule that tests them is reached; then they come from the one
classifier call of the message, together with the LLM rules it offers and the tier
escalation (classifier.py), in one structured answer.

A router's categories are an editable list (defaults below); complexity is always
`simple` < `medium` < `hard`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import RuleError

DEFAULT_CATEGORIES: tuple[str, ...] = (
    "chat", "code", "translation", "multimodal", "research", "math", "creative",
)  # fmt: skip
COMPLEXITIES: tuple[str, ...] = ("simple", "medium", "hard")
COMPLEXITY_RANK = {name: rank for rank, name in enumerate(COMPLEXITIES)}
FACET_PROPERTIES = frozenset({"category", "complexity"})
MAX_CATEGORIES = 20
CATEGORY_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
CATEGORY_NAME_HELP = "lowercase letters, digits, - and _, starting with a letter, at most 32"


@dataclass(frozen=True, slots=True)
class Facets:
    """The classifier's judgement of one message; None where it gave none (`error` says why)."""

    category: str | None
    complexity: str | None
    error: str | None = None

    @property
    def complexity_rank(self) -> int | None:
        return COMPLEXITY_RANK.get(self.complexity) if self.complexity else None


def check_categories(categories: Sequence[str]) -> tuple[str, ...]:
    if not categories:
        raise RuleError("Give the router at least one category", "categories")
    if len(categories) > MAX_CATEGORIES:
        raise RuleError(f"A router has at most {MAX_CATEGORIES} categories", "categories")
    seen: list[str] = []
    for name in categories:
        if not isinstance(name, str) or not CATEGORY_NAME.fullmatch(name):
            raise RuleError(
                f"Category '{name}' is not a category name ({CATEGORY_NAME_HELP})", "categories"
            )
        if name in seen:
            raise RuleError(f"The category '{name}' is listed twice", "categories")
        seen.append(name)
    return tuple(seen)
