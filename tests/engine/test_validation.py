"""validate_condition and compile_router reject what cannot work, in words a user reads."""

from __future__ import annotations

from typing import Any

import pytest
from engine_helpers import calc, cond, llm, router

from engine import (
    OPERATORS,
    PROPERTIES,
    RouterSpec,
    RuleError,
    RuleSpec,
    compile_router,
    validate_condition,
)
from engine.validation import router_problems

ALWAYS = {"property": "turns", "operator": "gte", "value": 1}

VALID_VALUE: dict[str, dict[str, Any]] = {
    "keyword": {"list": ["python"]},
    "regex": {"single": "abc"},
    "integer": {"single": 5, "pair": [1, 5]},
    "boolean": {"none": None},
    "file_type": {"list": ["pdf"]},
    "language": {"single": "en", "list": ["en"]},
    "time": {"single": "08:00", "pair": ["22:00", "06:00"]},
    "weekday": {"list": ["mon"]},
    "text": {"single": "ada", "list": ["ada"]},
    "workspace_type": {"single": "coding", "list": ["coding", "research"]},
    "category": {"single": "code", "list": ["code", "math"]},
    "complexity": {"single": "medium"},
}


def _valid(prop: str, operator: str) -> dict[str, Any]:
    arity = OPERATORS[operator].arity
    return cond(prop, operator, VALID_VALUE[PROPERTIES[prop].value_type][arity])


@pytest.mark.parametrize(
    ("prop", "operator"),
    [(p, o) for p, info in PROPERTIES.items() for o in info.operators],
)
def test_every_allowed_combination_validates(prop: str, operator: str) -> None:
    validate_condition(_valid(prop, operator))


@pytest.mark.parametrize(
    ("prop", "operator"),
    [(p, o) for p, info in PROPERTIES.items() for o in OPERATORS if o not in info.operators],
)
def test_every_other_combination_is_rejected(prop: str, operator: str) -> None:
    with pytest.raises(RuleError) as caught:
        validate_condition(cond(prop, operator, ["x"]))
    assert caught.value.field == "operator"
    assert caught.value.message.startswith(f"Operator '{operator}' does not apply to")


def test_the_message_names_the_operator_and_property() -> None:
    with pytest.raises(RuleError, match="^Operator 'lt' does not apply to keywords$"):
        validate_condition(cond("keywords", "lt", 3))


def test_the_catalog_is_complete_and_consistent() -> None:
    assert set(OPERATORS) == {
        "contains_any", "contains_all", "contains_none", "matches", "not_matches", "eq", "ne",
        "lt", "lte", "gt", "gte", "between", "is_true", "is_false",
    }  # fmt: skip
    assert set(PROPERTIES) == {
        "keywords", "regex", "message_chars", "message_tokens", "conversation_tokens", "turns",
        "has_image", "has_code", "attachment_type", "language", "time_of_day", "day_of_week",
        "user", "group", "workspace", "workspace_tags", "workspace_type", "category",
        "complexity",
    }  # fmt: skip
    for info in PROPERTIES.values():
        assert info.label and info.help and set(info.operators) <= set(OPERATORS)
    assert OPERATORS["contains_any"].label == "contains any of"
    assert OPERATORS["lte"].label == "≤"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (cond("foo", "eq", 1), "Unknown property 'foo'"),
        (cond("turns", "around", 1), "Unknown operator 'around'"),
        (cond("keywords", "contains_any", []), "Keywords: add at least one keyword"),
        (cond("keywords", "contains_any", ["ok", "  "]), "Keywords: remove the empty keyword"),
        (cond("keywords", "contains_any", "python"), "Keywords: expected a list of keywords"),
        (cond("regex", "matches", "(abc"), "Regex: unbalanced parenthesis"),
        (cond("regex", "matches", "abc)"), "Regex: unbalanced parenthesis"),
        (cond("regex", "matches", r"(a)\1"), "Regex: backreferences"),
        (cond("regex", "matches", r"(?P<x>a)(?P=x)"), "Regex: backreferences"),
        (cond("regex", "matches", "(?=a)b"), "Regex: lookahead"),
        (cond("regex", "matches", "(?<!a)b"), "Regex: lookbehind"),
        (cond("regex", "matches", "[abc"), "Regex: unbalanced bracket"),
        (cond("regex", "matches", "*a"), "Regex: a *, + or ? has nothing before it"),
        (cond("regex", "matches", ""), "Regex: enter a pattern"),
        (cond("regex", "matches", "a" * 1001), "Regex: the pattern is longer than 1,000"),
        (cond("turns", "between", [5, 1]), "Between needs two values, low ≤ high"),
        (cond("turns", "between", [5]), "Between needs two values, low ≤ high"),
        (cond("turns", "between", "1-5"), "Between needs two values, low ≤ high"),
        (cond("turns", "gt", -1), "Turns: enter a whole number from 0 to 1,000,000,000"),
        (cond("turns", "gt", True), "Turns: enter a whole number from 0 to 1,000,000,000"),
        (cond("turns", "gt", "3"), "Turns: enter a whole number from 0 to 1,000,000,000"),
        (cond("time_of_day", "lt", "25:00"), "Time of day: enter a time as HH:MM"),
        (cond("time_of_day", "between", ["08:00", "08:00"]), "Time of day: start and end must differ"),
        (cond("time_of_day", "between", ["08:00"]), "Time of day: between needs a start and an end"),
        (cond("day_of_week", "contains_any", ["funday"]), "Day of week: 'funday' is not a day"),
        (cond("language", "eq", "sv"), "Language: 'sv' is not a language the detector recognises"),
        (cond("user", "eq", ""), "User: enter a value"),
        (cond("group", "contains_all", []), "Group: add at least one value"),
        ({"operator": "eq"}, "Unknown property 'None'"),
    ],
)  # fmt: skip
def test_bad_conditions_are_explained(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError) as caught:
        validate_condition(raw)
    assert caught.value.message.startswith(message), caught.value.message


def test_rejected_regex_errors_point_at_the_value_field() -> None:
    with pytest.raises(RuleError) as caught:
        validate_condition(cond("regex", "matches", "(abc"))
    assert caught.value.field == "value"


def test_boolean_operators_ignore_any_value() -> None:
    validate_condition(cond("has_image", "is_true", "whatever"))
    validate_condition({"property": "has_code", "operator": "is_false"})


def test_a_calculated_rule_needs_a_condition() -> None:
    with pytest.raises(
        RuleError,
        match="rule 1 “Empty”, conditions: A calculated rule needs at least one condition",
    ) as caught:
        router(RuleSpec(7, "Empty", "calculated", "openai/gpt-4o"))
    assert caught.value.rule_id == 7


def test_an_llm_rule_needs_a_description() -> None:
    with pytest.raises(RuleError, match="description: Describe when this rule applies") as caught:
        router(llm(3, "   "))
    assert caught.value.field == "description"


def test_disabled_rules_are_validated_too_and_the_error_names_the_rule() -> None:
    bad = calc(4, cond("regex", "matches", "(x"), enabled=False, name="Broken")
    with pytest.raises(
        RuleError, match=r"^rule 2 “Broken”, condition 1, value: Regex: unbalanced"
    ) as caught:
        router(calc(1, cond("turns", "gt", 1)), bad)
    assert caught.value.rule_id == 4


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"primary": "gpt-4o"}, "primary_model: 'gpt-4o' is not a model reference"),
        ({"time_zone": "Mars/Olympus"}, "time_zone: 'Mars/Olympus' is not an IANA time zone"),
        ({"cooldown_minutes": -5}, "cooldown_minutes: Enter a whole number of minutes"),
        ({"fallbacks": ("openai/ok", "bad ref")}, "fallback 2: 'bad ref'"),
        ({"classifier": "nope"}, "classifier_model: 'nope'"),
    ],
)
def test_bad_router_settings_are_rejected(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError, match=f"^{message}"):
        router(calc(1, cond("turns", "gt", 1)), **settings)


def test_rule_targets_must_be_model_refs_and_ids_unique() -> None:
    with pytest.raises(RuleError, match="target_model: 'claude' is not a model reference"):
        router(calc(1, cond("turns", "gt", 1), target="claude"))
    with pytest.raises(RuleError, match="Two rules share the id 1"):
        router(calc(1, cond("turns", "gt", 1)), llm(1))


def test_an_unknown_rule_kind_or_match_mode_is_rejected() -> None:
    with pytest.raises(RuleError, match="kind: Choose calculated, LLM-classified or semantic"):
        router(RuleSpec(1, "S", "vibes", "openai/gpt-4o"))  # type: ignore[arg-type]
    with pytest.raises(RuleError, match="match: Choose all or any"):
        router(calc(1, cond("turns", "gt", 1), match="most"))


def test_model_ids_may_contain_slashes() -> None:
    compiled = compile_router(RouterSpec(1, "openrouter/meta-llama/llama-3-70b"))
    assert compiled.primary == "openrouter/meta-llama/llama-3-70b"


def test_rule_error_survives_pickling() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(RuleError("bad", "value", rule_id=3)))
    assert (error.message, error.field, error.rule_id) == ("bad", "value", 3)


def test_tier_and_profile_targets_and_category_names_are_validated_in_one_place() -> None:
    base: dict[str, Any] = {
        "primary_model": "demo/a",
        "tiers": [{"name": "fast", "model": "demo/a"}, {"name": "deep"}],
        "categories": ["chat", "code"],
    }
    good = [
        {"name": "T", "conditions": [ALWAYS], "target_model": "tier:deep"},
        {"name": "U", "conditions": [ALWAYS], "target_tier": "fast"},
        {"name": "P", "conditions": [ALWAYS], "target_profile": "code"},
        {
            "name": "C",
            "conditions": [{"property": "category", "operator": "eq", "value": "code"}],
            "target_model": "demo/a",
        },
    ]
    assert router_problems({**base, "rules": good}) == []
    bad = [
        {"name": "T", "conditions": [ALWAYS], "target_model": "tier:huge"},
        {"name": "U", "conditions": [ALWAYS], "target_tier": "huge"},
        {
            "name": "C",
            "conditions": [{"property": "category", "operator": "eq", "value": "math"}],
            "target_model": "demo/a",
        },
    ]
    assert [str(p) for p in router_problems({**base, "rules": bad})] == [
        "rules[0].target_model: 'huge' is not one of the router's tiers (fast, deep).",
        "rules[1].target_tier: 'huge' is not one of the router's tiers (fast, deep).",
        "rules[2].conditions[0].value: 'math' is not one of the router's categories (chat, code).",
    ]
    broken = {
        **base,
        "tiers": [{"name": "fast", "fallback": "gone"}],
        "default_tier": "",
        "categories": ["chat", "chat"],
    }
    assert [str(p) for p in router_problems(broken)] == [
        "tiers: Tier 'fast' falls back to 'gone', which is not a tier.",
        "categories: The category 'chat' is listed twice.",
    ]
    assert [str(p) for p in router_problems({**base, "default_tier": "nope"})] == [
        "default_tier: Default tier: 'nope' is not one of the tiers."
    ]
