"""Derived features of one `RouteInput`, each computed on first use and then reused.

A router evaluates many conditions against the same message; case folding, the pattern
bank scans, language detection, code detection and the local time are computed at most
once per input, and only if some evaluated condition (or the capability filter) asks.
`functools.cached_property` stores the value in the instance dict, so every later read
is a plain attribute lookup.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from .attachments import attachment_names
from .code_heuristic import looks_like_code
from .facets import Facets
from .language import detect_language
from .properties import WEEKDAYS
from .regexes import Scanner
from .tokens import estimate_message_tokens, estimate_tokens
from .types import RouteInput


def _folded_set(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(v.casefold() for v in values)


class Features:
    def __init__(
        self,
        inp: RouteInput,
        *,
        zone: ZoneInfo,
        scanner: Scanner,
        facets: Facets | None = None,
    ) -> None:
        self.inp = inp
        self._zone = zone
        self._scanner = scanner
        # The classifier's judgement; None until it has been asked (see route.evaluate).
        self.facets = facets

    # --- message text -------------------------------------------------------------
    @cached_property
    def folded(self) -> str:
        return self.inp.text.casefold()

    @cached_property
    def hits(self) -> frozenset[str]:
        """Keys of the router's keyword first words and regexes found in the message."""
        return self._scanner.scan(self.inp.text, lambda: self.folded)

    @cached_property
    def message_chars(self) -> int:
        return len(self.inp.text)

    @cached_property
    def message_tokens(self) -> int:
        return estimate_tokens(self.inp.text)

    @cached_property
    def conversation_tokens(self) -> int:
        inp = self.inp
        if inp.conversation_tokens is not None:
            return inp.conversation_tokens
        total = estimate_message_tokens(inp.text, 1 if inp.has_image else 0)
        for message in inp.history:
            total += estimate_message_tokens(message.text, message.images)
        return total

    @cached_property
    def turns(self) -> int:
        inp = self.inp
        if inp.turns is not None:
            return inp.turns
        return 1 + sum(1 for message in inp.history if message.role == "user")

    @cached_property
    def has_image(self) -> bool:
        return self.inp.has_image

    @cached_property
    def has_code(self) -> bool:
        return looks_like_code(self.inp.text)

    @cached_property
    def attachment_type(self) -> frozenset[str]:
        return attachment_names(self.inp.attachment_types)

    @cached_property
    def language(self) -> str:
        return detect_language(self.inp.text)

    # --- time (router's zone) ---------------------------------------------------------
    @cached_property
    def local_time(self) -> datetime:
        return self.inp.now.astimezone(self._zone)

    @cached_property
    def time_of_day(self) -> int:
        """Minutes since local midnight."""
        local = self.local_time
        return local.hour * 60 + local.minute

    @cached_property
    def day_of_week(self) -> str:
        return WEEKDAYS[self.local_time.weekday()]

    # --- who and where ------------------------------------------------------------
    @cached_property
    def user(self) -> str:
        return self.inp.user.casefold()

    @cached_property
    def group(self) -> frozenset[str]:
        return _folded_set(self.inp.groups)

    @cached_property
    def workspace(self) -> str:
        return self.inp.workspace.casefold()

    @cached_property
    def workspace_tags(self) -> frozenset[str]:
        return _folded_set(self.inp.workspace_tags)

    @cached_property
    def workspace_type(self) -> str:
        return self.inp.workspace_type.casefold()

    # --- the classifier's judgement (facets.py) -------------------------------------
    @property
    def category(self) -> str | None:
        return self.facets.category if self.facets is not None else None

    @property
    def complexity(self) -> int | None:
        return self.facets.complexity_rank if self.facets is not None else None
