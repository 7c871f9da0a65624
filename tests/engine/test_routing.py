"""Order semantics, the single classifier call, stickiness and the capability filter."""

from __future__ import annotations

import json
import pickle
from datetime import timedelta

import pytest
from engine_helpers import NOW, calc, cond, llm, message, router

from engine import (
    ClassifierPrompt,
    ClassifierVerdict,
    HistoryMessage,
    StickyState,
    classifier_verdict,
    decide,
    evaluate,
    route,
)

CODE = cond("keywords", "contains_any", ["python", "stack trace"])
NEVER = cond("turns", "gt", 1000)
ALWAYS = cond("turns", "gte", 1)


class FakeClassifier:
    """Answers with a fixed raw text and records every prompt it sees."""

    def __init__(self, answer: str = "none") -> None:
        self.answer = answer
        self.prompts: list[ClassifierPrompt] = []

    def __call__(self, prompt: ClassifierPrompt) -> ClassifierVerdict:
        self.prompts.append(prompt)
        return classifier_verdict(self.answer, prompt, latency_ms=180, input_tokens=90)


def statuses(decision: object) -> list[str]:
    return [v.status for v in decision.verdicts]  # type: ignore[attr-defined]


# --- order ---------------------------------------------------------------------------


def test_the_first_matching_rule_wins() -> None:
    compiled = router(
        calc(1, NEVER),
        calc(2, CODE, name="Code questions"),
        calc(3, ALWAYS),
        primary="openai/gpt-4o",
    )
    decision = route(compiled, message("Help with this Python stack trace"))
    assert (decision.source, decision.rule_id, decision.model) == ("rule", 2, "anthropic/claude")
    assert (
        decision.reason == 'Rule "Code questions": message contains any of "python", "stack trace"'
    )
    assert statuses(decision) == ["no_match", "matched", "not_reached"]


def test_no_match_falls_to_the_primary_model() -> None:
    decision = route(router(calc(1, NEVER)), message())
    assert (decision.source, decision.rule_id, decision.model) == ("primary", None, "openai/gpt-4o")
    assert decision.reason == "No rule matched; primary model"


def test_disabled_rules_are_skipped() -> None:
    compiled = router(calc(1, ALWAYS, enabled=False), calc(2, ALWAYS))
    decision = route(compiled, message())
    assert decision.rule_id == 2
    assert decision.verdicts[0].status == "disabled"
    assert decision.verdicts[0].detail == "disabled"


def test_disabled_llm_rules_are_never_offered() -> None:
    evaluation = evaluate(router(llm(1, enabled=False), calc(2, NEVER)), message())
    assert evaluation.offered == ()
    assert not evaluation.needs_classifier


def test_an_all_rule_needs_every_condition_and_reports_the_failing_one() -> None:
    compiled = router(calc(1, ALWAYS, NEVER, cond("has_image", "is_true")))
    decision = route(compiled, message())
    verdict = decision.verdicts[0]
    assert verdict.status == "no_match"
    assert [c.matched for c in verdict.conditions] == [True, False]  # stopped at the first false
    assert verdict.detail == "not: turns > 1,000"
    assert verdict.conditions[1].observed == "1"


def test_an_any_rule_stops_at_the_first_true_condition_and_says_which() -> None:
    compiled = router(calc(1, NEVER, cond("has_image", "is_true"), ALWAYS, match="any", name="Any"))
    decision = route(compiled, message(has_image=True))
    verdict = decision.verdicts[0]
    assert verdict.status == "matched"
    assert [c.property for c in verdict.conditions] == ["turns", "has_image"]
    assert decision.reason == 'Rule "Any": message has an image'


def test_an_all_rule_reason_lists_all_its_conditions() -> None:
    compiled = router(calc(1, ALWAYS, cond("message_chars", "lt", 100), name="Short"))
    assert route(compiled, message()).reason == 'Rule "Short": turns ≥ 1 and message length < 100'


# --- the single classifier call -----------------------------------------------------------


def test_only_llm_rules_before_the_first_calculated_match_are_offered() -> None:
    compiled = router(llm(1), calc(2, NEVER), llm(3), calc(4, ALWAYS), llm(5))
    evaluation = evaluate(compiled, message())
    assert evaluation.offered == (1, 3)
    assert evaluation.matched_rule_id == 4
    assert evaluation.needs_classifier


def test_all_enabled_llm_rules_are_offered_when_no_calculated_rule_matches() -> None:
    evaluation = evaluate(router(llm(1), calc(2, NEVER), llm(3)), message())
    assert evaluation.offered == (1, 3)


def test_the_classifier_is_called_once_and_sees_only_offered_rules() -> None:
    compiled = router(
        llm(1, "legal questions"), calc(2, NEVER), llm(3, "medical questions"),
        calc(4, ALWAYS), llm(5, "cooking questions"),
    )  # fmt: skip
    classify = FakeClassifier("r2")
    decision = route(compiled, message())
    decision = route(compiled, message(), classify=classify)
    assert len(classify.prompts) == 1
    prompt = classify.prompts[0]
    assert prompt.choices == (("r1", 1), ("r2", 3))
    assert prompt.labels == ("r1", "r2", "none")
    assert "medical questions" in prompt.system and "cooking" not in prompt.system
    assert (decision.rule_id, decision.rule_kind, decision.source) == (3, "llm", "rule")
    assert decision.classifier_called
    assert statuses(decision) == [
        "classifier_rejected", "no_match", "classifier_chose", "not_reached", "not_reached"
    ]  # fmt: skip
    assert decision.reason == ('Rule "LLM 3" chosen by the classifier (openai/gpt-4o, 180 ms)')


def test_the_classifier_is_not_called_when_nothing_is_offered() -> None:
    classify = FakeClassifier("r1")
    decision = route(router(calc(1, ALWAYS), llm(2)), message(), classify=classify)
    assert classify.prompts == []
    assert decision.rule_id == 1
    assert not decision.classifier_called
    assert statuses(decision) == ["matched", "not_reached"]


def test_a_classifier_none_lets_the_calculated_winner_stand() -> None:
    compiled = router(llm(1), calc(2, ALWAYS, name="Always"))
    decision = route(compiled, message(), classify=FakeClassifier("none"))
    assert decision.rule_id == 2
    assert decision.reason == 'Rule "Always": turns ≥ 1 (classifier said none)'
    assert statuses(decision) == ["classifier_rejected", "matched"]


def test_the_classifier_model_is_named_in_the_reason() -> None:
    compiled = router(llm(1, name="Legal"), classifier="openai/gpt-4o-mini")
    decision = route(compiled, message(), classify=FakeClassifier('{"rule": "r1"}'))
    assert decision.reason == ('Rule "Legal" chosen by the classifier (openai/gpt-4o-mini, 180 ms)')


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("", "empty answer"),
        ("I think it is about law", "not one of r1, r2, none"),
        ("r1, r2", "more than one label"),
        ("r7", "not one of r1, r2, none"),
        ('{"rule": "r1", "label": "r2"}', 'one label under "rule" or "label"'),
        ("{not json", "invalid JSON"),
    ],
)
def test_an_unusable_classifier_answer_means_no_llm_match_with_a_reason(
    answer: str, why: str
) -> None:
    compiled = router(llm(1), llm(2), calc(3, NEVER))
    decision = route(compiled, message(), classify=FakeClassifier(answer))
    assert decision.source == "primary"
    assert decision.classifier is not None and why in (decision.classifier.error or "")
    assert decision.reason.startswith("No rule matched (classifier answer not used: ")
    assert why in decision.reason
    assert statuses(decision)[:2] == ["classifier_rejected", "classifier_rejected"]


def test_a_raising_classifier_means_no_llm_match_and_the_reason_says_why() -> None:
    def broken(prompt: ClassifierPrompt) -> ClassifierVerdict:
        raise TimeoutError("classifier timed out after 3 s")

    decision = route(router(llm(1)), message(), classify=broken)
    assert decision.source == "primary" and decision.model == "openai/gpt-4o"
    assert decision.classifier_called
    assert "TimeoutError: classifier timed out after 3 s" in decision.reason
    assert decision.verdicts[0].status == "classifier_rejected"


def test_without_a_classifier_llm_rules_stay_offered() -> None:
    decision = route(router(llm(1)), message())
    assert decision.source == "primary"
    assert decision.verdicts[0].status == "offered"
    assert decision.classifier is None and not decision.classifier_called


def test_a_verdict_for_a_rule_that_was_not_offered_is_ignored() -> None:
    compiled = router(calc(1, ALWAYS), llm(2))
    evaluation = evaluate(compiled, message())
    verdict = ClassifierVerdict(2, "r1", "r1", 100, 10, 1)
    decision = decide(compiled, evaluation, classifier=verdict, inp=message())
    assert decision.rule_id == 1
    assert "which was not offered" in decision.reason
    assert "rule 2" not in decision.reason  # named, never by its id
    assert f"“{compiled.rules_by_id[2].name}”" in decision.reason


def test_a_cached_verdict_is_marked_and_not_counted_as_a_call() -> None:
    compiled = router(llm(1, name="Legal"))
    inp = message()
    evaluation = evaluate(compiled, inp)
    verdict = ClassifierVerdict(1, "r1", "r1", 0.2, 0, 0, cached=True)
    decision = decide(compiled, evaluation, classifier=verdict, inp=inp)
    assert decision.rule_id == 1 and not decision.classifier_called
    assert decision.reason.endswith(", 0 ms, cached)")
    assert "r1" not in decision.reason, "rules are named, never shown by their internal label"


# --- stickiness ---------------------------------------------------------------------------


def sticky_router(**settings: object):  # noqa: ANN201
    settings.setdefault("sticky", True)
    settings.setdefault("cooldown_minutes", 30)
    return router(calc(1, CODE, name="Code", target="local/small"), **settings)


def test_a_sticky_router_keeps_the_last_model_within_the_cooldown() -> None:
    state = StickyState(1, "local/small", NOW - timedelta(minutes=3))
    decision = route(sticky_router(), message("thanks!"), sticky=state)
    assert (decision.source, decision.model, decision.rule_id) == ("sticky", "local/small", 1)
    assert decision.reason == (
        'Sticky: kept local/small from rule "Code" (answered 3 min ago, cool-down 30 min)'
    )


def test_the_cooldown_boundary_is_inclusive() -> None:
    state = StickyState(1, "local/small", NOW - timedelta(minutes=30))
    assert route(sticky_router(), message(), sticky=state).source == "sticky"


def test_stickiness_ends_after_the_cooldown() -> None:
    state = StickyState(1, "local/small", NOW - timedelta(minutes=30, seconds=1))
    decision = route(sticky_router(), message(), sticky=state)
    assert (decision.source, decision.model) == ("primary", "openai/gpt-4o")


def test_stickiness_needs_the_rule_to_still_exist_and_be_enabled() -> None:
    state = StickyState(99, "local/small", NOW)
    assert route(sticky_router(), message(), sticky=state).source == "primary"
    disabled = router(calc(1, CODE, enabled=False), sticky=True)
    assert route(disabled, message(), sticky=StickyState(1, "local/small", NOW)).source == "primary"


def test_a_router_that_is_not_sticky_ignores_sticky_state() -> None:
    state = StickyState(1, "local/small", NOW)
    assert route(sticky_router(sticky=False), message(), sticky=state).source == "primary"


def test_a_matching_rule_beats_stickiness() -> None:
    compiled = router(calc(1, CODE), calc(2, cond("has_image", "is_true")), sticky=True)
    state = StickyState(1, "local/small", NOW)
    decision = route(compiled, message(has_image=True), sticky=state)
    assert (decision.source, decision.rule_id) == ("rule", 2)


# --- capability filter ----------------------------------------------------------------


def test_an_image_skips_models_without_image_support() -> None:
    compiled = router(calc(1, ALWAYS, target="local/small", fallbacks=("local/tiny",), name="R"))
    decision = route(compiled, message(has_image=True))
    assert decision.model == "local/tiny"
    assert decision.chain == ("local/tiny", "openai/gpt-4o")
    assert decision.skipped == (("local/small", "does not accept images"),)
    assert decision.reason == 'Rule "R": turns ≥ 1 — skipped local/small: does not accept images'


def test_a_long_conversation_skips_to_the_next_model_that_fits() -> None:
    compiled = router(
        calc(1, ALWAYS, target="local/small", fallbacks=("local/tiny", "anthropic/claude")),
        fallbacks=("openai/gpt-4o-mini",),
    )
    decision = route(compiled, message(conversation_tokens=10_000))
    assert decision.model == "anthropic/claude"
    assert decision.chain == ("anthropic/claude", "openai/gpt-4o-mini", "openai/gpt-4o")
    assert decision.skipped == (
        ("local/small", "conversation (~10,000 tokens) exceeds its 8,192-token context"),
        ("local/tiny", "conversation (~10,000 tokens) exceeds its 2,048-token context"),
    )


def test_history_counts_toward_the_context_limit() -> None:
    history = tuple(HistoryMessage("user", "x" * 4000) for _ in range(3))  # ~3,012 tokens
    compiled = router(calc(1, ALWAYS, target="local/tiny"))
    assert route(compiled, message(history=history)).model == "openai/gpt-4o"
    assert route(compiled, message()).model == "local/tiny"


def test_models_missing_from_the_catalog_are_skipped() -> None:
    compiled = router(calc(1, ALWAYS, target="gone/model"))
    decision = route(compiled, message())
    assert decision.model == "openai/gpt-4o"
    assert decision.skipped == (("gone/model", "not in the catalog"),)


def test_the_chain_is_deduplicated_in_order() -> None:
    compiled = router(
        calc(1, ALWAYS, target="openai/gpt-4o", fallbacks=("anthropic/claude", "openai/gpt-4o")),
        fallbacks=("anthropic/claude", "openai/gpt-4o-mini"),
    )
    assert route(compiled, message()).chain == (
        "openai/gpt-4o", "anthropic/claude", "openai/gpt-4o-mini"
    )  # fmt: skip


def test_when_no_model_fits_the_decision_says_so() -> None:
    compiled = router(calc(1, ALWAYS, target="local/small"), primary="local/tiny")
    decision = route(compiled, message(has_image=True, conversation_tokens=5000))
    assert decision.model is None and decision.chain == ()
    assert "no suitable model" in decision.reason
    assert "local/small: does not accept images" in decision.reason
    assert (
        "local/tiny: conversation (~5,000 tokens) exceeds its 2,048-token context"
        in decision.reason
    )


# --- the decision as data ------------------------------------------------------------------


def test_a_decision_is_json_serialisable() -> None:
    compiled = router(llm(1), calc(2, CODE), calc(3, ALWAYS, target="local/small"))
    decision = route(compiled, message("hi", has_image=True), classify=FakeClassifier("none"))
    data = json.loads(json.dumps(decision.to_dict()))
    assert data["source"] == "rule" and data["rule_id"] == 3 and data["model"] == "openai/gpt-4o"
    assert data["skipped"] == [{"model": "local/small", "reason": "does not accept images"}]
    assert data["classifier"]["raw"] == "none" and data["classifier_called"] is True
    assert [v["status"] for v in data["verdicts"]] == ["classifier_rejected", "no_match", "matched"]
    assert data["verdicts"][1]["conditions"][0] == {
        "property": "keywords",
        "operator": "contains_any",
        "expected": '"python", "stack trace"',
        "observed": "none found",
        "matched": False,
    }
    assert data["decision_us"] > 0


def test_verdicts_are_built_once() -> None:
    decision = route(router(calc(1, ALWAYS)), message())
    assert decision.verdicts is decision.verdicts


def test_a_compiled_router_survives_pickling() -> None:
    compiled = router(calc(1, CODE), calc(2, cond("regex", "matches", "(?i)urgent")))
    restored = pickle.loads(pickle.dumps(compiled))
    assert restored.spec == compiled.spec
    assert route(restored, message("URGENT please")).rule_id == 2
    assert route(restored, message("python")).rule_id == 1
