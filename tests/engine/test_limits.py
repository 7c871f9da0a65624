"""Limits that bound what routing one message can cost (issue 11, item 3 and 15)."""

from __future__ import annotations

from typing import Any

import pytest
from engine_helpers import calc, cond, holds, llm, message, router

from engine import RuleError, check_router_size, evaluate, route
from engine.limits import (
    MAX_CONDITIONS_PER_RULE,
    MAX_COOLDOWN_MINUTES,
    MAX_COUNT,
    MAX_KEYWORDS_PER_ROUTER,
    MAX_REGEXES_PER_ROUTER,
    MAX_RULES_PER_ROUTER,
)


def kw(*words: str) -> dict[str, Any]:
    return cond("keywords", "contains_any", list(words))


def test_a_router_may_hold_the_maximum_number_of_rules_but_not_one_more() -> None:
    rules = [calc(i, cond("turns", "gt", 10**6)) for i in range(1, MAX_RULES_PER_ROUTER + 1)]
    assert evaluate(router(*rules), message("hi")).matched_rule_id is None
    with pytest.raises(RuleError, match=f"at most {MAX_RULES_PER_ROUTER:,} rules") as caught:
        router(*rules, llm(MAX_RULES_PER_ROUTER + 1))
    assert caught.value.field == "rules"


def test_twenty_thousand_rules_are_refused_before_any_is_compiled() -> None:
    with pytest.raises(RuleError, match="this one would have 20,000"):
        check_router_size([[cond("regex", "matches", "(")]] * 20_000)


def test_a_rule_has_a_bounded_number_of_conditions() -> None:
    conditions = [cond("turns", "gt", i) for i in range(MAX_CONDITIONS_PER_RULE + 1)]
    router(calc(1, *conditions[:-1]))
    with pytest.raises(RuleError, match=r"^rule 1 “Big”, conditions: A rule has at most"):
        router(calc(1, *conditions, name="Big"))


def test_keywords_are_counted_over_the_whole_router_disabled_rules_included() -> None:
    words = [f"word{i}" for i in range(100)]
    per_rule = MAX_KEYWORDS_PER_ROUTER // 100
    rules = [calc(i, kw(*words)) for i in range(1, per_rule + 1)]
    router(*rules)
    with pytest.raises(RuleError, match=f"at most {MAX_KEYWORDS_PER_ROUTER:,} keywords"):
        router(*rules, calc(99, kw("one more"), enabled=False))


def test_regexes_are_counted_over_the_whole_router() -> None:
    rules = [calc(i, cond("regex", "matches", f"x{i}")) for i in range(MAX_REGEXES_PER_ROUTER)]
    router(*rules)
    with pytest.raises(RuleError, match=f"at most {MAX_REGEXES_PER_ROUTER:,} regexes"):
        router(*rules, calc(999, cond("regex", "matches", "y")))


def test_a_regex_that_compiles_to_a_huge_program_is_refused() -> None:
    # 13 characters, ~240,000 RE2 steps: each character of a long message could cost that.
    with pytest.raises(RuleError, match="Regex: the pattern is too complex"):
        router(calc(1, cond("regex", "matches", r"[\pL]{1,200}x")))
    router(calc(1, cond("regex", "matches", r"\pL+ \d{4}")))  # ordinary Unicode classes pass


@pytest.mark.parametrize("value", [-1, MAX_COUNT + 1, 10**30, 1e30, float("nan")])
def test_numbers_in_conditions_are_bounded(value: Any) -> None:
    with pytest.raises(RuleError, match="enter a whole number from 0 to"):
        router(calc(1, cond("message_chars", "gt", value)))


@pytest.mark.parametrize("minutes", [-1, MAX_COOLDOWN_MINUTES + 1, 10**30])
def test_the_cool_down_is_bounded(minutes: int) -> None:
    with pytest.raises(RuleError, match="cooldown_minutes: Enter a whole number of minutes from 0"):
        router(calc(1, cond("turns", "gt", 1)), cooldown_minutes=minutes)


def test_keywords_are_found_in_one_pass_however_repetitive_the_message() -> None:
    # The stall: long phrases whose first word recurs all through a long message.
    # Each near-miss used to re-check the phrase; the answer must still be right.
    phrases = ["w " * 95 + f"x{i}" for i in range(20)]
    compiled = router(calc(1, kw(*phrases)))
    text = "w " * 50_000
    assert route(compiled, message(text)).source == "primary"
    assert route(compiled, message(text + "x7")).rule_id == 1
    assert route(compiled, message(text + "x77")).source == "primary"


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [
        ("stack trace", "stack\xa0trace", True),  # any Unicode whitespace between words
        ("stack trace", "stack\u2003\u2003trace", True),
        ("stack trace", "stack\x0btrace", True),
        ("stack trace", "é stack\ttrace", True),
        ("stack trace", "stack\u200btrace", False),  # a zero-width space is not whitespace
        ("naïve", "naïvely", False),
        ("naïve", "un naïve_", False),
        ("naïve", "(naïve)", True),
        ("café", "décafé", False),
    ],
)
def test_unicode_boundaries_and_whitespace(keyword: str, text: str, expected: bool) -> None:
    import re

    words = keyword.casefold().split()
    reference = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)")
    assert (reference.search(text.casefold()) is not None) is expected
    assert holds(kw(keyword), text) is expected


def test_keyword_characters_are_counted_over_the_whole_router() -> None:
    from engine.limits import MAX_ITEM_CHARS, MAX_KEYWORD_CHARS_PER_ROUTER

    count = MAX_KEYWORD_CHARS_PER_ROUTER // MAX_ITEM_CHARS
    long = ["k" * (MAX_ITEM_CHARS - 3) + f"{i:03}" for i in range(count)]
    rules = [calc(i, kw(word)) for i, word in enumerate(long, start=1)]
    router(*rules)
    with pytest.raises(RuleError, match=f"at most {MAX_KEYWORD_CHARS_PER_ROUTER:,} characters"):
        router(*rules, calc(99, kw("x")))
