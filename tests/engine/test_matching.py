"""Keywords and regexes: whole words, case, phrases, Unicode, and linear-time patterns."""

from __future__ import annotations

import re

import pytest
from engine_helpers import calc, cond, holds, message, router
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import evaluate, route


def kw(*words: str, operator: str = "contains_any") -> dict[str, object]:
    return cond("keywords", operator, list(words))


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [
        ("cat", "my cat sleeps", True),
        ("cat", "concatenate the lists", False),
        ("cat", "CAT!", True),
        ("cat", "cats", False),
        ("cat", "cat_name", False),  # "_" is a word character
        ("cat", "cat", True),
        ("cat", "", False),
        ("Python", "I write python.", True),
        ("stack trace", "here is the Stack Trace:", True),
        ("stack trace", "a stack\n  trace", True),  # any whitespace between phrase words
        ("stack trace", "stacktrace", False),
        ("stack trace", "stack traces", False),
        ("stack trace", "a haystack trace", False),
        ("c++", "I use C++ daily", True),
        ("c++", "I use c++.", True),
        (".net", "built on .NET", True),
        ("naïve", "a NAÏVE approach", True),
        ("straße", "die STRASSE ist lang", True),  # Unicode case folding: ß ~ ss
        ("STRASSE", "in der Straße", True),
        ("über", "Fragen über alles", True),
        ("über", "überall", False),
        ("東京", "我在東京工作", True),  # no word boundaries in unspaced scripts
        ("東京ab", "東京abc", False),
        ("error", "error error", True),
        ("an", "and then banana", False),  # several substring hits, none whole
        ("an", "banana an", True),  # a whole-word hit after substring hits
    ],
)
def test_keywords_are_whole_word_and_case_insensitive(
    keyword: str, text: str, expected: bool
) -> None:
    assert holds(kw(keyword), text) is expected


def test_contains_all_needs_every_keyword_even_overlapping_ones() -> None:
    assert holds(kw("stack", "stack trace", operator="contains_all"), "a stack trace")
    assert not holds(kw("stack", "stack trace", operator="contains_all"), "a stack")


def test_keyword_conditions_share_one_scan_without_mixing_results() -> None:
    compiled = router(
        calc(1, kw("alpha")),
        calc(2, kw("beta", operator="contains_none")),
        calc(3, kw("gamma")),
    )
    assert evaluate(compiled, message("beta and gamma")).matched_rule_id == 3
    assert evaluate(compiled, message("nothing")).matched_rule_id == 2
    assert evaluate(compiled, message("ALPHA")).matched_rule_id == 1


WORDS = st.sampled_from(["cat", "Cat", "concat", "the", "a", "stack", "trace", "ß", "SS", "x_y"])
SEPARATORS = st.sampled_from([" ", "  ", "\n", ".", ",", "_", "-", "", "é"])


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.tuples(WORDS, SEPARATORS), max_size=12),
    keyword=st.sampled_from(["cat", "stack trace", "ss", "the cat", "a"]),
)
def test_keyword_matching_agrees_with_a_plain_regex(
    pieces: list[tuple[str, str]], keyword: str
) -> None:
    text = "".join(word + sep for word, sep in pieces)
    words = keyword.casefold().split()
    reference = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)")
    expected = reference.search(text.casefold()) is not None
    assert holds(kw(keyword), text) is expected


def test_regex_is_case_sensitive_unless_asked() -> None:
    assert not holds(cond("regex", "matches", "hello"), "HELLO world")
    assert holds(cond("regex", "matches", "(?i)hello"), "HELLO world")
    assert holds(cond("regex", "matches", "^HELLO"), "HELLO world")


def test_regex_on_non_ascii_text() -> None:
    assert holds(cond("regex", "matches", r"caf\S noir"), "un café noir")
    # RE2's \b is ASCII-only: "é" is not a word character to it.
    assert not holds(cond("regex", "matches", r"caf\S\b"), "un café noir")
    assert holds(cond("regex", "matches", "東京"), "我在東京工作")
    assert not holds(cond("regex", "not_matches", "é"), "é")


def test_regexes_and_keywords_in_one_router_do_not_interfere() -> None:
    compiled = router(
        calc(1, cond("regex", "matches", "Python")),  # case-sensitive
        calc(2, kw("python")),  # case-insensitive
    )
    assert evaluate(compiled, message("python")).matched_rule_id == 2
    assert evaluate(compiled, message("Python")).matched_rule_id == 1
    assert evaluate(compiled, message("pythön")).matched_rule_id is None


def test_a_pathological_pattern_finishes_quickly() -> None:
    compiled = router(calc(1, cond("regex", "matches", "(a+)+$")), calc(2, kw("zzz")))
    text = "a" * 50_000 + "!"
    # With backtracking this would not finish in the lifetime of the suite; how fast it is
    # belongs to bench/engine.py.
    decision = route(compiled, message(text))
    assert decision.source == "primary"  # "$" never follows the a's


def test_the_matched_text_is_shown_in_the_verdict() -> None:
    compiled = router(calc(1, cond("regex", "matches", r"error \d+")))
    verdict = route(compiled, message("we got error 503 twice")).verdicts[0]
    assert verdict.conditions[0].observed == 'matched "error 503"'
    assert verdict.conditions[0].expected == r"/error \d+/"


def test_keyword_verdicts_say_what_was_found_or_missing() -> None:
    compiled = router(
        calc(1, kw("alpha", "beta", operator="contains_all")),
        calc(2, kw("gamma", "delta")),
    )
    first, second = route(compiled, message("alpha and delta")).verdicts
    assert first.conditions[0].observed == '"beta" not found'
    assert second.conditions[0].observed == 'found "delta"'


def test_a_failed_one_pass_scan_falls_back_to_searching_each_pattern() -> None:
    from engine.regexes import PatternBank

    class GaveUp:
        def Match(self, text: str) -> None:  # noqa: N802 — RE2's name
            return None  # what the RE2 set reports when its DFA runs out of memory

    bank = PatternBank({"a": "foo", "b": "ba+r"})
    assert bank.present("foo baaar") == {"a", "b"}
    bank._set = GaveUp()  # type: ignore[assignment]
    assert bank.present("foo baaar") == {"a", "b"}
    assert bank.present("nothing") == frozenset()
