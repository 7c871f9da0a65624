"""What one router may hold, so that routing a message has a bounded cost.

Every surface that accepts rules — the rule builder, the JSON API, router import — checks
these through the engine (`compile_router`, `validate_condition`, `check_router_size`), and
the README's "Hostile input" section lists them. Matching is one linear-time pass over the
message for all keywords and regexes of a router (regexes.py); these caps bound the size of
that automaton, and so the time a pass can take (`bench/engine.py` measures the worst case).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MAX_RULES_PER_ROUTER = 200
MAX_CONDITIONS_PER_RULE = 20
MAX_LIST_ITEMS = 200  # keywords (or other values) in one condition
MAX_ITEM_CHARS = 200  # characters in one keyword or value
MAX_KEYWORDS_PER_ROUTER = 500  # over all rules, enabled or not
MAX_KEYWORD_CHARS_PER_ROUTER = 5000  # characters of all those keywords together
MAX_REGEXES_PER_ROUTER = 50
MAX_PATTERN_CHARS = 1000  # characters in one regex
# RE2 program size ("steps") of one regex: `\pL{1,10}` alone is ~12,000, and a pass over a
# long message costs up to this many steps per character when RE2's DFA gives up.
MAX_REGEX_PROGRAM_SIZE = 5000
MAX_COUNT = 1_000_000_000  # numbers in conditions (characters, tokens, turns)
MAX_COOLDOWN_MINUTES = 525_600  # one year
MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 10_000
MAX_FALLBACKS = 20
# Semantic rules: every example of a router is embedded when a version is first routed with (a
# paid embedding model spends on each), and each message is scored against all of them.
MAX_EXAMPLES_PER_ROUTER = 1000
MAX_EXAMPLE_CHARS_PER_ROUTER = 200_000

# Text no database column can hold: NUL (PostgreSQL's text refuses it) and lone surrogates
# ("\ud800" in JSON: not UTF-8, so no driver can encode them).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_problem(value: Any) -> str:
    """Why some text in `value` (a string, or lists and mappings of them) cannot be stored, or ""."""
    if isinstance(value, str):
        found = _UNSTORABLE.search(value)
        if found is None:
            return ""
        if found.group() == "\x00":
            return "Remove the NUL character (\\u0000): it is not text."
        return "Remove the lone surrogate (like \\ud800): it is not text."
    if isinstance(value, Mapping):
        for key, item in value.items():
            if problem := unstorable_problem(key) or unstorable_problem(item):
                return problem
    elif isinstance(value, (list, tuple)):
        for item in value:
            if problem := unstorable_problem(item):
                return problem
    return ""


def pattern_counts(conditions: Iterable[Mapping[str, Any]]) -> tuple[int, int, int]:
    """(keywords, their characters, regexes) that these raw conditions add to the scan."""
    keywords = chars = regexes = 0
    for condition in conditions:
        if not isinstance(condition, Mapping):
            continue
        prop, value = condition.get("property"), condition.get("value")
        if prop == "keywords" and isinstance(value, (list, tuple)):
            keywords += len(value)
            chars += sum(len(v) for v in value if isinstance(v, str))
        elif prop == "regex":
            regexes += 1
    return keywords, chars, regexes
