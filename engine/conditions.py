"""Conditions of calculated rules: validation and compilation into fast tests.

A raw condition is `{"property": str, "operator": str, "value": ...}` (see properties.py
for the catalog and the meaning of each property). `validate_condition` checks one and
raises `RuleError` with a message for the person editing the rule;
`compile_condition` also turns it into a `CompiledCondition`, whose `test(features)`
returns `(matched, observed)`. `observed` is the raw value the condition looked at; it is
rendered to text (`show`) only when someone reads the verdicts, which keeps the common
path — many conditions, no match — free of string formatting.

Normalisation: text values are stripped and case-folded (comparisons ignore case), file
types lose a leading dot, weekdays may be written in full ("Monday" → "mon"), times are
"HH:MM" on a 24-hour clock.
"""

from __future__ import annotations

import operator as op
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from .attachments import normalize_type_value
from .errors import RuleError
from .facets import CATEGORY_NAME, CATEGORY_NAME_HELP, COMPLEXITIES, COMPLEXITY_RANK
from .features import Features
from .limits import MAX_COUNT, MAX_ITEM_CHARS, MAX_LIST_ITEMS, unstorable_problem
from .properties import (
    LANGUAGE_CODES,
    OPERATORS,
    PROPERTIES,
    WEEKDAYS,
    WORKSPACE_TYPES,
    PropertyInfo,
)
from .regexes import REGEX_KEY, Keyword, compile_keyword, compile_user_regex

Test = Callable[[Features], tuple[bool, Any]]
Show = Callable[[Any, Features], str]


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    property: str
    operator: str
    expected: str  # the value as a person reads it: '"python", "stack trace"', '1,000'
    summary: str  # a sentence fragment for reasons: 'message contains any of "python"'
    test: Test
    show: Show
    # What the router's scanner must look for on behalf of this condition.
    keywords: tuple[Keyword, ...] = ()
    regex: str | None = None
    # Tests the classifier's judgement (category, complexity): unknown until it is asked.
    facet: bool = False


# --- validation ------------------------------------------------------------------------


def _list(info: PropertyInfo, value: Any, noun: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise RuleError(f"{info.label}: expected a list of {noun}s", "value")
    if not value:
        raise RuleError(f"{info.label}: add at least one {noun}", "value")
    if len(value) > MAX_LIST_ITEMS:
        raise RuleError(f"{info.label}: at most {MAX_LIST_ITEMS} {noun}s", "value")
    items = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise RuleError(f"{info.label}: remove the empty {noun}", "value")
        if len(item) > MAX_ITEM_CHARS:
            raise RuleError(
                f"{info.label}: a {noun} is longer than {MAX_ITEM_CHARS} characters", "value"
            )
        items.append(item.strip())
    return tuple(items)


def _text(info: PropertyInfo, value: Any, noun: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"{info.label}: enter a {noun}", "value")
    return value.strip()


def _integer(info: PropertyInfo, value: Any) -> int:
    # bool is an int subclass; `True` as a length is a form bug, not a value.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise RuleError(f"{info.label}: enter a whole number from 0 to {MAX_COUNT:,}", "value")
    return value


_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def _time(info: PropertyInfo, value: Any) -> int:
    match = _TIME.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match:
        raise RuleError(f"{info.label}: enter a time as HH:MM, e.g. 22:00", "value")
    return int(match[1]) * 60 + int(match[2])


_DAY_NAMES = dict(
    zip(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
        WEEKDAYS,
        strict=True,
    )
)


def _weekday(info: PropertyInfo, value: str) -> str:
    day = value.strip().lower()
    day = _DAY_NAMES.get(day, day)
    if day not in WEEKDAYS:
        raise RuleError(
            f"{info.label}: '{value}' is not a day; use mon, tue, wed, thu, fri, sat, sun",
            "value",
        )
    return day


def _language(info: PropertyInfo, value: str) -> str:
    code = value.strip().lower()
    if code not in LANGUAGE_CODES:
        raise RuleError(
            f"{info.label}: '{value}' is not a language the detector recognises "
            f"({', '.join(LANGUAGE_CODES)})",
            "value",
        )
    return code


def _workspace_type(info: PropertyInfo, value: str) -> str:
    name = value.strip().casefold()
    if name not in WORKSPACE_TYPES:
        raise RuleError(
            f"{info.label}: '{value}' is not a workspace type ({', '.join(WORKSPACE_TYPES)})",
            "value",
        )
    return name


def _category(info: PropertyInfo, value: str) -> str:
    name = value.strip().lower()
    if not CATEGORY_NAME.fullmatch(name):
        raise RuleError(
            f"{info.label}: '{value}' is not a category name ({CATEGORY_NAME_HELP})", "value"
        )
    return name


def _complexity(info: PropertyInfo, value: Any) -> int:
    name = value.strip().lower() if isinstance(value, str) else value
    if name not in COMPLEXITY_RANK:
        raise RuleError(
            f"{info.label}: '{value}' is not a complexity; use {', '.join(COMPLEXITIES)}",
            "value",
        )
    return COMPLEXITY_RANK[name]


def _pair(info: PropertyInfo, value: Any) -> tuple[Any, Any]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or len(value) != 2:
        if info.value_type == "time":
            raise RuleError(f"{info.label}: between needs a start and an end time", "value")
        raise RuleError("Between needs two values, low ≤ high", "value")
    return value[0], value[1]


@dataclass(frozen=True, slots=True)
class Condition:
    """A validated condition with its value normalised for its operator."""

    property: str
    operator: str
    value: Any


def parse_condition(raw: Mapping[str, Any]) -> Condition:
    if not isinstance(raw, Mapping):
        raise RuleError("A condition needs a property, an operator and a value")
    prop = raw.get("property")
    info = PROPERTIES.get(prop) if isinstance(prop, str) else None
    if info is None:
        raise RuleError(f"Unknown property '{prop}'", "property")
    operator = raw.get("operator")
    if not isinstance(operator, str) or operator not in OPERATORS:
        raise RuleError(f"Unknown operator '{operator}'", "operator")
    if operator not in info.operators:
        raise RuleError(f"Operator '{operator}' does not apply to {info.label.lower()}", "operator")
    arity = OPERATORS[operator].arity
    value = raw.get("value")
    if problem := unstorable_problem(value):
        # No database can store it, and nobody types it: a paste or a crafted request.
        raise RuleError(f"{info.label}: {problem[0].lower()}{problem[1:]}", "value")
    kind = info.value_type
    normalised: Any

    if arity == "none":
        normalised = None
    elif kind == "keyword":
        normalised = _list(info, value, "keyword")
    elif kind == "regex":
        compile_user_regex(value)  # raises RuleError saying what is wrong
        normalised = value  # not stripped: spaces are part of a pattern
    elif kind == "integer":
        if arity == "pair":
            low, high = _pair(info, value)
            low, high = _integer(info, low), _integer(info, high)
            if low > high:
                raise RuleError("Between needs two values, low ≤ high", "value")
            normalised = (low, high)
        else:
            normalised = _integer(info, value)
    elif kind == "time":
        if arity == "pair":
            start, end = _pair(info, value)
            normalised = (_time(info, start), _time(info, end))
            if normalised[0] == normalised[1]:
                raise RuleError(f"{info.label}: start and end must differ", "value")
        else:
            normalised = _time(info, value)
    elif kind == "weekday":
        normalised = frozenset(_weekday(info, v) for v in _list(info, value, "day"))
    elif kind == "language":
        if arity == "list":
            normalised = frozenset(_language(info, v) for v in _list(info, value, "language"))
        else:
            normalised = _language(info, _text(info, value, "language code"))
    elif kind == "workspace_type":
        if arity == "list":
            normalised = frozenset(
                _workspace_type(info, v) for v in _list(info, value, "workspace type")
            )
        else:
            normalised = _workspace_type(info, _text(info, value, "workspace type"))
    elif kind == "file_type":
        normalised = frozenset(normalize_type_value(v) for v in _list(info, value, "file type"))
    elif kind == "category":
        if arity == "list":
            normalised = frozenset(_category(info, v) for v in _list(info, value, "category"))
        else:
            normalised = _category(info, _text(info, value, "category"))
    elif kind == "complexity":
        normalised = _complexity(info, value)
    elif arity == "list":  # text
        normalised = frozenset(v.casefold() for v in _list(info, value, "value"))
    else:
        normalised = _text(info, value, "value").casefold()
    # `info` was found, so `prop` is a str (mypy cannot follow that through PROPERTIES.get).
    return Condition(cast(str, prop), operator, normalised)


def validate_condition(raw: Mapping[str, Any]) -> None:
    """Raise `RuleError` if the raw condition cannot be used; return None otherwise."""
    compile_condition(raw)


# --- compilation ---------------------------------------------------------------------


def _quoted(values: Any) -> str:
    # Sets have no order of their own; sort them so reasons and logs are stable.
    ordered = sorted(values) if isinstance(values, frozenset) else values
    return ", ".join(f'"{v}"' for v in ordered)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _expected(cond: Condition, kind: str) -> str:
    value = cond.value
    if value is None:
        return ""
    if kind == "regex":
        return f"/{value}/"
    if kind == "integer":
        return f"{value[0]:,} and {value[1]:,}" if isinstance(value, tuple) else f"{value:,}"
    if kind == "time":
        if isinstance(value, tuple):
            return f"{_clock(value[0])} and {_clock(value[1])}"
        return _clock(value)
    if kind == "weekday":
        return ", ".join(d for d in WEEKDAYS if d in value)
    if kind == "complexity":
        return COMPLEXITIES[value]
    if isinstance(value, (tuple, frozenset)):
        return _quoted(value)
    return f'"{value}"'


_BOOL_SUMMARY = {
    ("has_image", "is_true"): "message has an image",
    ("has_image", "is_false"): "message has no image",
    ("has_code", "is_true"): "message contains code",
    ("has_code", "is_false"): "message contains no code",
}

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": op.eq,
    "ne": op.ne,
    "lt": op.lt,
    "lte": op.le,
    "gt": op.gt,
    "gte": op.ge,
}


def _show_count(observed: Any, _: Features) -> str:
    return f"{observed:,}"


def _show_yes_no(observed: Any, _: Features) -> str:
    return "yes" if observed else "no"


def _show_text(observed: Any, _: Features) -> str:
    return f'"{observed}"' if observed else "(none)"


def _show_set(observed: Any, _: Features) -> str:
    return _quoted(observed) if observed else "(none)"


def _show_clock(observed: Any, _: Features) -> str:
    return _clock(observed)


def _show_attachments(_: Any, features: Features) -> str:
    types = features.inp.attachment_types
    return ", ".join(types) if types else "no attachments"


def _keyword_test(operator: str, keywords: tuple[Keyword, ...]) -> tuple[Test, Show]:
    # `hits` is one linear-time scan of the message shared by the whole router: a test
    # only looks its keywords up, so its cost does not depend on the message at all.
    if operator == "contains_all":

        def test(f: Features) -> tuple[bool, Any]:
            hits = f.hits
            for kw in keywords:
                if kw.key not in hits:
                    return False, kw.text
            return True, None

        def show(missing: Any, _: Features) -> str:
            return f'"{missing}" not found' if missing else "all found"

        return test, show

    def first_found(f: Features) -> str | None:
        hits = f.hits
        if hits:
            for kw in keywords:
                if kw.key in hits:
                    return kw.text
        return None

    def show_found(found: Any, _: Features) -> str:
        return f'found "{found}"' if found else "none found"

    if operator == "contains_any":

        def test_any(f: Features) -> tuple[bool, Any]:
            found = first_found(f)
            return found is not None, found

        return test_any, show_found

    def test_none(f: Features) -> tuple[bool, Any]:
        found = first_found(f)
        return found is None, found

    return test_none, show_found


def _regex_test(operator: str, pattern: str) -> tuple[Test, Show]:
    regex = compile_user_regex(pattern)
    wanted = operator == "matches"
    key = REGEX_KEY + pattern

    def test(f: Features) -> tuple[bool, Any]:
        hit = key in f.hits
        return hit is wanted, hit

    def show(hit: Any, f: Features) -> str:
        if not hit:
            return "no match"
        # Only now, for display, find what matched: the bank only says whether.
        found = regex.search(f.inp.text)
        text = found.group(0) if found else ""
        return f'matched "{text[:40]}…"' if len(text) > 40 else f'matched "{text}"'

    return test, show


def _value_test(cond: Condition, info: PropertyInfo) -> Test:
    get = op.attrgetter(cond.property)
    operator, value = cond.operator, cond.value
    pred: Callable[[Any], bool]
    if operator == "is_true":
        pred = bool
    elif operator == "is_false":
        pred = op.not_
    elif operator == "between" and info.value_type == "time":
        start, end = value
        # start > end wraps midnight (22:00–06:00); the end is never included.
        pred = (lambda m: start <= m < end) if start < end else (lambda m: m >= start or m < end)
    elif operator == "between":
        low, high = value
        pred = lambda x: low <= x <= high  # noqa: E731
    elif operator in _COMPARE:
        compare = _COMPARE[operator]
        pred = lambda x: compare(x, value)  # noqa: E731
    else:
        pred = _membership(operator, value, is_set=cond.property in _SET_VALUED)

    def test(f: Features) -> tuple[bool, Any]:
        observed = get(f)
        return pred(observed), observed

    return test


# Properties whose observed value is a set (the others are one value each).
_SET_VALUED = frozenset({"attachment_type", "group", "workspace_tags"})


def _membership(operator: str, values: frozenset[str], *, is_set: bool) -> Callable[[Any], bool]:
    if is_set:
        if operator == "contains_any":
            return lambda s: not values.isdisjoint(s)
        if operator == "contains_all":
            return values.issubset
        return values.isdisjoint  # contains_none
    if operator == "contains_any":
        return values.__contains__
    return lambda x: x not in values  # contains_none


def _show_facet(observed: Any, _: Features) -> str:
    if observed is None:
        return "unknown"
    return COMPLEXITIES[observed] if isinstance(observed, int) else f'"{observed}"'


def _facet_test(cond: Condition) -> Test:
    """category / complexity: unknown (None: the classifier gave no judgement) matches nothing,
    `≠` and "none of" included — a rule must not fire on a judgement nobody made."""
    get = op.attrgetter(cond.property)
    operator, value = cond.operator, cond.value
    pred: Callable[[Any], bool]
    if operator in _COMPARE:
        compare = _COMPARE[operator]
        pred = lambda x: compare(x, value)  # noqa: E731
    else:
        pred = _membership(operator, value, is_set=False)

    def test(f: Features) -> tuple[bool, Any]:
        observed = get(f)
        if observed is None:
            return False, None
        return pred(observed), observed

    return test


def _show_for(prop: str, kind: str) -> Show:
    if kind == "integer":
        return _show_count
    if kind == "boolean":
        return _show_yes_no
    if kind == "time":
        return _show_clock
    if kind == "file_type":
        return _show_attachments
    if prop in _SET_VALUED:
        return _show_set
    return _show_text


def compile_condition(raw: Mapping[str, Any]) -> CompiledCondition:
    cond = parse_condition(raw)
    info = PROPERTIES[cond.property]
    kind = info.value_type
    expected = _expected(cond, kind)
    summary = _BOOL_SUMMARY.get(
        (cond.property, cond.operator),
        f"{info.subject} {OPERATORS[cond.operator].label} {expected}".rstrip(),
    )
    if kind == "keyword":
        keywords = tuple(compile_keyword(k) for k in cond.value)
        test, show = _keyword_test(cond.operator, keywords)
        return CompiledCondition(
            cond.property, cond.operator, expected, summary, test, show,
            keywords=keywords,
        )  # fmt: skip
    if kind == "regex":
        test, show = _regex_test(cond.operator, cond.value)
        return CompiledCondition(
            cond.property, cond.operator, expected, summary, test, show, regex=cond.value
        )
    if kind in ("category", "complexity"):
        return CompiledCondition(
            cond.property, cond.operator, expected, summary, _facet_test(cond), _show_facet,
            facet=True,
        )  # fmt: skip
    return CompiledCondition(
        cond.property, cond.operator, expected, summary,
        _value_test(cond, info), _show_for(cond.property, kind),
    )  # fmt: skip
