"""Tiers: rules target a tier, unset tiers fall back, explicit tiers bypass rules, the
classifier may escalate the default tier but never demote it."""

from __future__ import annotations

import pytest
from engine_helpers import ALWAYS_COND, calc, cond, llm, message, router

from engine import ClassifierVerdict, RuleError, build_classifier_prompt, decide, evaluate, route
from engine.tiers import (
    DEFAULT_TIERS,
    TierSpec,
    check_tiers,
    describe_fallbacks,
    higher_tiers,
    ladder,
    tier_target,
)

TIERS = (
    TierSpec("balanced", "openai/gpt-4o-mini"),
    TierSpec("smart", "openai/gpt-4o", fallback="balanced"),
    TierSpec("coding", "anthropic/claude", fallback="smart"),
    TierSpec("deep", "", fallback="smart"),
)


def tiered(*rules, **settings):  # noqa: ANN001, ANN002, ANN003, ANN201
    settings.setdefault("tiers", TIERS)
    settings.setdefault("primary", "local/small")
    return router(*rules, **settings)


def test_the_default_fallbacks_are_deep_smart_balanced() -> None:
    by_name = check_tiers(DEFAULT_TIERS, "balanced")
    assert ladder(by_name, "deep") == ("deep", "smart", "balanced")
    assert ladder(by_name, "coding") == ("coding", "smart", "balanced")
    assert describe_fallbacks(DEFAULT_TIERS) == (
        "smart → balanced; coding → smart → balanced; deep → smart → balanced"
    )


def test_higher_means_on_the_fallback_ladder() -> None:
    by_name = check_tiers(DEFAULT_TIERS, "balanced")
    assert higher_tiers(by_name, "balanced") == ("smart", "coding", "deep")
    assert higher_tiers(by_name, "smart") == ("coding", "deep")
    assert higher_tiers(by_name, "deep") == ()


def test_a_rule_targets_a_tier_and_answers_with_its_model() -> None:
    compiled = tiered(
        calc(1, cond("keywords", "contains_any", ["python"]), target=tier_target("coding"))
    )
    decision = route(compiled, message("my python script"))
    assert decision.model == "anthropic/claude"
    assert (decision.tier, decision.tier_source) == ("coding", "rule")
    # When the tier's model fails, the rest of its ladder is tried before the primary.
    assert decision.chain[:3] == ("anthropic/claude", "openai/gpt-4o", "openai/gpt-4o-mini")


def test_an_unset_tier_falls_back_along_its_ladder_and_says_so() -> None:
    compiled = tiered(calc(1, ALWAYS_COND, target=tier_target("deep")))
    decision = route(compiled, message())
    assert decision.model == "openai/gpt-4o"
    assert decision.tier == "deep" and decision.tier_via == ("deep",)
    assert "“smart” (“deep” unset)" in decision.reason


def test_a_ladder_without_any_model_answers_with_the_primary() -> None:
    tiers = (TierSpec("balanced"), TierSpec("deep", fallback="balanced"))
    compiled = tiered(calc(1, ALWAYS_COND, target=tier_target("deep")), tiers=tiers)
    decision = route(compiled, message())
    assert decision.model == "local/small"
    assert "primary model" in decision.reason


def test_swapping_a_tier_model_changes_every_rule_that_targets_it() -> None:
    rules = (
        calc(1, cond("keywords", "contains_any", ["python"]), target=tier_target("coding")),
        calc(2, cond("keywords", "contains_any", ["rust"]), target=tier_target("coding")),
    )
    swapped = tuple(
        TierSpec(t.name, "openai/gpt-4o-mini", t.fallback) if t.name == "coding" else t
        for t in TIERS
    )
    for text in ("python", "rust"):
        assert route(tiered(*rules), message(text)).model == "anthropic/claude"
        assert route(tiered(*rules, tiers=swapped), message(text)).model == "openai/gpt-4o-mini"


def test_no_match_goes_to_the_default_tier() -> None:
    compiled = tiered(calc(1, cond("keywords", "contains_any", ["python"])), default_tier="smart")
    decision = route(compiled, message("hello"))
    assert decision.model == "openai/gpt-4o"
    assert (decision.tier, decision.tier_source, decision.source) == ("smart", "default", "primary")
    assert "default tier “smart”" in decision.reason


def test_without_a_default_tier_no_match_is_the_primary_as_before() -> None:
    decision = route(tiered(), message("hello"))
    assert decision.model == "local/small" and decision.tier is None


@pytest.mark.parametrize("field", ["user_tier", "workspace_tier"])
def test_an_explicit_tier_bypasses_the_rules(field: str) -> None:
    compiled = tiered(calc(1, ALWAYS_COND, target="openai/gpt-4o"), llm(2), default_tier="balanced")
    calls: list[object] = []
    decision = route(
        compiled,
        message(**{field: "coding"}),
        classify=lambda p: calls.append(p),  # type: ignore[arg-type, func-returns-value]
    )
    assert decision.model == "anthropic/claude"
    assert decision.source == "tier" and decision.tier == "coding"
    assert decision.tier_source == field.removesuffix("_tier")
    assert calls == [], "rules bypassed: no classifier call"
    assert {v.status for v in decision.verdicts} == {"not_reached"}


def test_the_users_tier_outranks_the_workspaces() -> None:
    decision = route(tiered(), message(user_tier="smart", workspace_tier="coding"))
    assert (decision.tier, decision.tier_source) == ("smart", "user")


def test_an_unknown_explicit_tier_is_ignored_and_said() -> None:
    compiled = tiered(calc(1, ALWAYS_COND, target="openai/gpt-4o"))
    decision = route(compiled, message(user_tier="gone"))
    assert decision.rule_id == 1
    assert "“gone” asked for is not one of this router's tiers" in decision.reason


def _escalating(**settings):  # noqa: ANN003, ANN202
    settings.setdefault("default_tier", "balanced")
    return tiered(calc(1, cond("keywords", "contains_any", ["python"]), target=tier_target("coding")),
                  escalation=True, **settings)  # fmt: skip


def _answer(tier: str) -> ClassifierVerdict:
    return ClassifierVerdict(None, None, tier, 5.0, 40, 2, tier=tier)


def test_escalation_promotes_the_default_tier() -> None:
    compiled = _escalating()
    prompts = []

    def classify(prompt):  # noqa: ANN001, ANN202
        prompts.append(prompt)
        return _answer("deep")

    decision = route(compiled, message("prove the Riemann hypothesis"), classify=classify)
    assert (decision.tier, decision.tier_source) == ("deep", "escalation")
    assert decision.model == "openai/gpt-4o"  # deep is unset: smart's model
    assert "escalated to “deep” by the classifier" in decision.reason
    (prompt,) = prompts
    assert prompt.fields == (("tier", ("balanced", "smart", "coding", "deep")),)


def test_escalation_never_demotes_nor_moves_sideways() -> None:
    compiled = _escalating(default_tier="smart")
    for answer in ("smart", "coding"):
        decision = route(compiled, message("hi"), classify=lambda p, a=answer: _answer(a))
        expected = "coding" if answer == "coding" else "smart"
        assert decision.tier == expected
    # "balanced" is not offered above "smart" at all, and an answer naming it is unusable.
    evaluation = evaluate(compiled, message("hi"))
    assert "balanced" not in evaluation.escalation
    decision = decide(compiled, evaluation, classifier=_answer("balanced"), inp=message("hi"))
    assert decision.tier == "smart" and decision.tier_source == "default"


def test_escalation_is_not_asked_when_a_rule_matches_or_when_off() -> None:
    compiled = _escalating()
    assert evaluate(compiled, message("python please")).escalation == ()
    off = tiered(default_tier="balanced")
    assert not evaluate(off, message("hi")).needs_classifier


def test_escalation_does_not_override_an_explicit_tier() -> None:
    compiled = _escalating()
    evaluation = evaluate(compiled, message("hard", user_tier="balanced"))
    assert not evaluation.needs_classifier
    decision = decide(compiled, evaluation, classifier=_answer("deep"), inp=message("hard"))
    assert decision.tier == "balanced"


def test_escalation_rides_on_the_same_call_as_llm_rules() -> None:
    compiled = tiered(llm(1, target=tier_target("smart")), default_tier="balanced", escalation=True)
    evaluation = evaluate(compiled, message("hi"))
    prompt = build_classifier_prompt(compiled, evaluation, message("hi"))
    assert [name for name, _ in prompt.fields] == ["rule", "tier"]


@pytest.mark.parametrize(
    ("tiers", "default", "message_part"),
    [
        ((TierSpec("Big"),), "", "'Big' is not a tier name"),
        ((TierSpec("a"), TierSpec("a")), "", "Two tiers are named 'a'"),
        ((TierSpec("a", fallback="a"),), "", "cannot fall back to itself"),
        ((TierSpec("a", fallback="b"),), "", "falls back to 'b', which is not a tier"),
        ((TierSpec("a", fallback="b"), TierSpec("b", fallback="a")), "", "circle: a → b → a"),
        ((TierSpec("a", "not a ref"),), "", "not a model reference"),
        ((TierSpec("a"),), "b", "Default tier: 'b' is not one of the tiers"),
    ],
)
def test_bad_tiers_are_refused_with_a_reason(tiers, default, message_part) -> None:  # noqa: ANN001
    with pytest.raises(RuleError, match=message_part):
        router(tiers=tiers, default_tier=default)


def test_a_rule_targeting_a_missing_tier_is_refused() -> None:
    with pytest.raises(RuleError, match="'huge' is not one of the router's tiers"):
        tiered(calc(1, ALWAYS_COND, target=tier_target("huge")))
