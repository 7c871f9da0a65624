"""Category × complexity: judged by the one classifier call, only when a rule needs them."""

from __future__ import annotations

import pytest
from engine_helpers import ALWAYS_COND, calc, cond, llm, message, router

from engine import (
    ClassifierVerdict,
    RuleError,
    build_classifier_prompt,
    classifier_verdict,
    evaluate,
    route,
)
from engine.classifier import parse_classifier_fields
from engine.errors import ClassifierAnswerError
from engine.facets import DEFAULT_CATEGORIES, Facets
from engine.tokens import estimate_tokens


def cat_router(**settings):  # noqa: ANN003, ANN201
    return router(
        calc(1, cond("keywords", "contains_any", ["urgent"]), target="openai/gpt-4o"),
        calc(2, cond("category", "eq", "code"), target="anthropic/claude", name="Code"),
        calc(3, cond("complexity", "gte", "medium"), target="openai/gpt-4o", name="Not simple"),
        primary="local/small",
        **settings,
    )


class Classifier:
    def __init__(self, answer: str):
        self.answer = answer
        self.prompts: list = []

    def __call__(self, prompt):  # noqa: ANN001, ANN204
        self.prompts.append(prompt)
        return classifier_verdict(self.answer, prompt, latency_ms=3.0)


def test_category_wins_when_it_comes_first() -> None:
    classify = Classifier("code hard")
    decision = route(cat_router(), message("fix my loop"), classify=classify)
    assert decision.rule_name == "Code" and decision.model == "anthropic/claude"
    assert (decision.category, decision.complexity) == ("code", "hard")
    assert "(classifier: code, hard)" in decision.reason
    assert len(classify.prompts) == 1


def test_complexity_decides_when_the_category_does_not_match() -> None:
    decision = route(cat_router(), message("hello"), classify=Classifier("chat medium"))
    assert decision.rule_name == "Not simple"
    decision = route(cat_router(), message("hello"), classify=Classifier("chat simple"))
    assert decision.source == "primary"


def test_no_call_when_a_rule_before_them_matches() -> None:
    classify = Classifier("code hard")
    decision = route(cat_router(), message("urgent: help"), classify=classify)
    assert decision.rule_id == 1 and classify.prompts == []
    assert not decision.classifier_called


def test_rules_after_a_certain_match_cost_nothing() -> None:
    compiled = router(calc(1, ALWAYS_COND), calc(2, cond("category", "eq", "code")))
    assert not evaluate(compiled, message()).needs_classifier


def test_an_all_rule_decided_by_its_other_condition_needs_no_call() -> None:
    compiled = router(
        calc(1, cond("keywords", "contains_any", ["python"]), cond("category", "eq", "code")),
    )
    assert not evaluate(compiled, message("hello")).needs_facets
    assert evaluate(compiled, message("python?")).needs_facets


def test_one_call_answers_llm_rules_and_facets_together() -> None:
    compiled = router(
        llm(1, name="Legal"),
        calc(2, cond("category", "eq", "math"), target="anthropic/claude", name="Math"),
        llm(3, "poems and stories", name="Creative"),
    )
    classify = Classifier("r2 math simple")
    decision = route(compiled, message("integrate x^2"), classify=classify)
    (prompt,) = classify.prompts
    assert [name for name, _ in prompt.fields] == ["rule", "category", "complexity"]
    assert prompt.labels == ("r1", "r2", "none")  # both LLM rules: rule 2 may not match
    # The classifier chose "Creative", but "Math" stands before it and matched.
    assert decision.rule_name == "Math"
    assert "not offered" not in decision.reason


def test_an_unusable_answer_leaves_the_facets_unknown_and_matches_nothing() -> None:
    decision = route(cat_router(), message("hi"), classify=Classifier("definitely code"))
    assert decision.source == "primary"
    assert decision.category is None
    assert 'category "definitely" is not one of chat, code' in decision.reason


def test_without_a_classifier_the_facets_are_unknown() -> None:
    decision = route(cat_router(), message("hi"))
    assert decision.source == "primary"
    statuses = {v.name: v.status for v in decision.verdicts}
    assert statuses["Code"] == "no_match"


def test_pending_before_the_classifier_answered() -> None:
    evaluation = evaluate(cat_router(), message("hi"))
    assert evaluation.needs_facets
    from engine import decide

    decision = decide(cat_router(), evaluation, inp=message("hi"))
    statuses = {v.name: v.status for v in decision.verdicts}
    assert statuses["Code"] == "pending"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("code hard", {"category": "code", "complexity": "hard"}),
        ("Code, Hard.", {"category": "code", "complexity": "hard"}),
        ("category: math complexity: simple", {"category": "math", "complexity": "simple"}),
        (
            '{"category": "chat", "complexity": "medium"}',
            {"category": "chat", "complexity": "medium"},
        ),
    ],
)
def test_answers_are_read_in_order_or_as_json(raw: str, expected: dict) -> None:
    compiled = cat_router()
    evaluation = evaluate(compiled, message("hi"))
    prompt = build_classifier_prompt(compiled, evaluation, message("hi"))
    assert parse_classifier_fields(raw, prompt) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "code", "code hard extra", "poetry hard", "code brutal", '{"category": "code"}', "{"],
)
def test_anything_else_is_refused(raw: str) -> None:
    compiled = cat_router()
    evaluation = evaluate(compiled, message("hi"))
    prompt = build_classifier_prompt(compiled, evaluation, message("hi"))
    with pytest.raises(ClassifierAnswerError):
        parse_classifier_fields(raw, prompt)


def test_categories_are_editable_per_router() -> None:
    compiled = router(calc(1, cond("category", "eq", "legal")), categories=("chat", "legal"))
    prompt = build_classifier_prompt(compiled, evaluate(compiled, message()), message())
    assert ("category", ("chat", "legal")) in prompt.fields
    with pytest.raises(RuleError, match="'code' is not one of the router's categories"):
        router(calc(1, cond("category", "eq", "code")), categories=("chat", "legal"))
    with pytest.raises(RuleError, match="listed twice"):
        router(categories=("chat", "chat"))


def test_the_prompt_for_a_short_message_is_about_100_tokens() -> None:
    compiled = cat_router()
    inp = message("How do I reverse a list in Python?")
    prompt = build_classifier_prompt(compiled, evaluate(compiled, inp), inp)
    tokens = estimate_tokens(prompt.system) + estimate_tokens(prompt.user) + 8
    assert tokens <= 110, (tokens, prompt.system, prompt.user)
    assert set(DEFAULT_CATEGORIES) <= set(dict(prompt.fields)["category"])


def test_the_cache_key_depends_on_what_is_asked() -> None:
    inp = message("hi")
    a = cat_router()
    b = cat_router(categories=(*DEFAULT_CATEGORIES, "legal"))
    key_a = build_classifier_prompt(a, evaluate(a, inp), inp).cache_key
    key_b = build_classifier_prompt(b, evaluate(b, inp), inp).cache_key
    assert key_a != key_b


def test_facets_in_the_decision_dict() -> None:
    decision = route(cat_router(), message("x"), classify=Classifier("code simple"))
    data = decision.to_dict()
    assert data["category"] == "code" and data["complexity"] == "simple"
    assert data["classifier"]["category"] == "code"


def test_a_verdict_from_a_failed_call_has_no_facets() -> None:
    verdict = ClassifierVerdict(None, None, "", 1.0, 0, 0, error="timeout")
    assert verdict.facets == Facets(None, None, "timeout")
