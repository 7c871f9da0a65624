"""Semantic rules in the engine: runs decided together, thresholds, margins, skips, traces."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import NOW, calc, cond, llm, router

from engine import HistoryMessage, RouteInput, RuleError, RuleSpec, decide, evaluate, route
from engine.semantic import (
    ExampleIndex,
    SemanticInput,
    normalise,
    semantic_query_text,
    top_k,
)


def sem(
    rule_id: int,
    examples: tuple[str, ...] = ("a", "b"),
    *,
    threshold: float = 0.7,
    margin: float | None = None,
    enabled: bool = True,
    target: str = "openai/gpt-4o-mini",
) -> RuleSpec:
    return RuleSpec(
        rule_id,
        f"Sem {rule_id}",
        "semantic",
        target,
        examples=examples,
        threshold=threshold,
        margin=margin,
        enabled=enabled,
    )


def index_for(vectors: dict[int, list[list[float]]]) -> ExampleIndex:
    return ExampleIndex("test/emb", {rid: normalise(rows) for rid, rows in vectors.items()})


def semantic_for(message: list[float], vectors: dict[int, list[list[float]]]) -> SemanticInput:
    return SemanticInput("test/emb", vector=normalise(message), index=index_for(vectors))


def inp(text: str = "hello there my friend", **kwargs) -> RouteInput:
    return RouteInput(text, now=NOW, **kwargs)


def test_without_an_embedding_evaluation_stops_at_the_first_semantic_run() -> None:
    r = router(calc(1, cond("turns", "gt", 50)), sem(2), calc(3, cond("turns", "gte", 0)))
    evaluation = evaluate(r, inp())
    assert evaluation.needs_embedding
    assert evaluation.matched_rule_id is None
    decision = decide(r, evaluation, inp=inp())
    assert "semantic rules not evaluated" in decision.reason
    assert [v.status for v in decision.verdicts] == ["no_match", "pending", "not_reached"]


def test_a_calculated_match_before_the_run_needs_no_embedding() -> None:
    r = router(calc(1, cond("turns", "gte", 0)), sem(2))
    evaluation = evaluate(r, inp())
    assert not evaluation.needs_embedding
    assert evaluation.matched_rule_id == 1


def test_the_best_score_above_its_threshold_wins_not_the_first_in_order() -> None:
    r = router(sem(1, threshold=0.5), sem(2, threshold=0.5))
    semantic = semantic_for([1, 0.2, 0], {1: [[1, 1, 0], [0, 0, 1]], 2: [[1, 0.1, 0], [0, 1, 1]]})
    decision = route(r, inp(), embed=lambda _: semantic)
    assert decision.rule_id == 2
    assert decision.reason.startswith('Rule "Sem 2": similar to “a”')
    first, second = decision.verdicts
    assert first.status == "no_match" and "scored higher" in first.detail
    assert second.status == "matched"
    assert second.semantic is not None and second.semantic["nearest"] == "a"
    assert second.semantic["score"] == pytest.approx(0.999, abs=0.01)
    assert first.semantic is not None and first.semantic["threshold"] == 0.5


def test_scores_below_every_threshold_fall_through_to_the_next_rules() -> None:
    r = router(sem(1, threshold=0.9), calc(2, cond("turns", "gte", 0)))
    semantic = semantic_for([1, 0, 0], {1: [[0, 1, 0], [1, 1, 1]]})
    evaluation = evaluate(r, inp(), semantic=semantic)
    assert evaluation.matched_rule_id == 2
    verdict = decide(r, evaluation, inp=inp()).verdicts[0]
    assert verdict.status == "no_match" and verdict.detail.startswith("below threshold")
    assert verdict.semantic is not None and verdict.semantic["nearest"] == "b"


def test_a_winner_must_beat_the_runner_up_by_its_margin() -> None:
    vectors = {1: [[1, 0, 0], [0, 0, 1]], 2: [[0.9, 0.3, 0], [0, 0, 1]]}
    message = [1, 0.05, 0]
    narrow = router(sem(1, threshold=0.5, margin=0.2), sem(2, threshold=0.5))
    decision = route(narrow, inp(), embed=lambda _: semantic_for(message, vectors))
    assert decision.source == "primary"
    assert "runner-up by its margin" in decision.verdicts[0].detail
    wide = router(sem(1, threshold=0.5, margin=0.01), sem(2, threshold=0.5))
    assert route(wide, inp(), embed=lambda _: semantic_for(message, vectors)).rule_id == 1


def test_a_calculated_rule_splits_two_runs_and_the_first_run_wins_first() -> None:
    r = router(sem(1, threshold=0.5), calc(2, cond("turns", "gt", 99)), sem(3, threshold=0.5))
    vectors = {1: [[1, 0, 0], [1, 0.1, 0]], 3: [[0, 1, 0], [0, 1, 0.1]]}
    # Rule 3 would score higher, but rule 1's run comes first and reaches its threshold.
    decision = route(r, inp(), embed=lambda _: semantic_for([0.6, 0.8, 0], vectors))
    assert decision.rule_id == 1
    assert [v.status for v in decision.verdicts] == ["matched", "not_reached", "not_reached"]


def test_disabled_rules_do_not_break_a_run_and_are_not_scored() -> None:
    r = router(sem(1, threshold=0.5), sem(2, enabled=False), sem(3, threshold=0.5))
    vectors = {1: [[1, 0, 0], [1, 0.1, 0]], 3: [[0, 1, 0], [0, 1, 0.1]]}
    decision = route(r, inp(), embed=lambda _: semantic_for([0.6, 0.8, 0], vectors))
    assert decision.rule_id == 3
    assert [v.status for v in decision.verdicts] == ["no_match", "disabled", "matched"]


def test_an_embedding_failure_skips_semantic_rules_and_says_why() -> None:
    r = router(sem(1), calc(2, cond("turns", "gt", 99)))
    failed = SemanticInput("local/potion", error="the local model's weights are missing")
    decision = route(r, inp(), embed=lambda _: failed)
    assert decision.source == "primary"
    assert "semantic rules skipped: the local model's weights are missing" in decision.reason
    assert decision.verdicts[0].status == "skipped"
    assert decision.to_dict()["embedding"]["error"] == "the local model's weights are missing"


def test_llm_rules_before_a_semantic_winner_are_still_offered() -> None:
    r = router(llm(1), sem(2, threshold=0.1), llm(3))
    semantic = semantic_for([1, 0], {2: [[1, 0], [0, 1]]})
    evaluation = evaluate(r, inp(), semantic=semantic)
    assert evaluation.matched_rule_id == 2
    assert evaluation.offered == (1,)


def test_a_short_follow_up_is_embedded_with_the_previous_user_message() -> None:
    history = (
        HistoryMessage("user", "How do I sort a list in Python?"),
        HistoryMessage("assistant", "Use sorted()."),
    )
    assert semantic_query_text(inp("and in Rust?", history=history)) == (
        "How do I sort a list in Python?\nand in Rust?"
    )
    long = "what about sorting a vector in Rust then"
    assert semantic_query_text(inp(long, history=history)) == long
    assert semantic_query_text(inp("and in Rust?")) == "and in Rust?"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (sem(1, examples=("only one",)), "examples: Give at least 2 different examples"),
        (sem(1, examples=("same", " same ")), "examples: Give at least 2 different examples"),
        (sem(1, examples=tuple(f"e{i}" for i in range(201))), "examples: At most 200 examples"),
        (sem(1, threshold=1.5), "threshold: The threshold must be between 0 and 1"),
        (sem(1, margin=-0.1), "margin: The margin must be between 0 and 1"),
        (sem(1, examples=("a", 3)), "examples: Example 2 is not text"),  # type: ignore[arg-type]
    ],
)
def test_bad_semantic_rules_are_rejected_with_the_field(rule: RuleSpec, message: str) -> None:
    with pytest.raises(RuleError, match=message) as caught:
        router(rule)
    assert caught.value.field in {"examples", "threshold", "margin"}


def test_the_embedding_model_must_be_a_model_ref() -> None:
    with pytest.raises(RuleError, match="embedding_model: 'potion' is not a model reference"):
        router(sem(1), embedding_model="potion")


def test_scores_use_cosine_whatever_the_vectors_length() -> None:
    r = router(sem(1, threshold=0.99))
    semantic = SemanticInput(
        "test/emb",
        vector=normalise(np.array([3.0, 4.0])),
        index=index_for({1: [[30, 40], [0, 1]]}),
    )
    assert route(r, inp(), embed=lambda _: semantic).rule_id == 1


def test_a_rule_scores_the_mean_of_its_three_nearest_examples() -> None:
    # Six examples: the message is very close to one of them only. The score is the mean of
    # the three nearest (1.0, 0.6, 0.0 → 0.53), not the single nearest one.
    examples = ("a", "b", "c", "d", "e", "f")
    rows = [[1, 0, 0], [0.6, 0.8, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0], [0, -1, 0]]
    r = router(sem(1, examples=examples, threshold=0.7))
    decision = route(r, inp(), embed=lambda _: semantic_for([1, 0, 0], {1: rows}))
    verdict = decision.verdicts[0]
    assert verdict.status == "no_match" and verdict.detail.startswith("below threshold")
    assert verdict.semantic is not None
    assert verdict.semantic["score"] == pytest.approx((1.0 + 0.6 + 0.0) / 3, abs=0.01)
    assert verdict.semantic["nearest"] == "a"


def test_a_message_near_several_examples_beats_one_near_a_single_example() -> None:
    # Rule 1 has one example identical to the message and five unrelated ones; rule 2 has
    # several examples all fairly close. The neighbours' vote goes to rule 2.
    one_close = [[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, -1, 0]]
    several = [[0.8, 0.6, 0], [0.8, 0, 0.6], [0.8, -0.6, 0], [0.8, 0, -0.6], [0, 1, 0], [0, 0, 1]]
    r = router(
        sem(1, examples=tuple("abcdef"), threshold=0.3),
        sem(2, examples=tuple("ghijkl"), threshold=0.3),
    )
    decision = route(r, inp(), embed=lambda _: semantic_for([1, 0, 0], {1: one_close, 2: several}))
    assert decision.rule_id == 2


@pytest.mark.parametrize(("examples", "k"), [(2, 1), (3, 1), (4, 2), (5, 2), (6, 3), (200, 3)])
def test_small_rules_average_at_most_half_their_examples(examples: int, k: int) -> None:
    assert top_k(examples) == k
