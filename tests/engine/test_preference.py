"""A person's preferred model, applied after the router decided: first in the chain when
suitable; otherwise skipped with the reason (policies and capabilities win)."""

from __future__ import annotations

from engine import route
from engine.preference import apply_preference
from engine.types import Restriction
from tests.engine.engine_helpers import calc, cond, message, router

ALWAYS = cond("turns", "gte", 1)


def test_the_preferred_model_answers_first_and_the_router_s_chain_follows() -> None:
    compiled = router(
        calc(1, ALWAYS, target="local/small", name="R"), fallbacks=("openai/gpt-4o-mini",)
    )
    inp = message()
    decision = route(compiled, inp)
    outcome = apply_preference(compiled, decision, inp, preferred="anthropic/claude")
    assert outcome.applied and outcome.note == ""
    assert outcome.decision.model == "anthropic/claude"
    assert outcome.decision.chain == (
        "anthropic/claude",
        "local/small",
        "openai/gpt-4o-mini",
        "openai/gpt-4o",
    )
    assert outcome.decision.rule_name == "R" and outcome.decision.source == "rule"
    assert outcome.decision.reason.endswith(
        "your preference: anthropic/claude instead of local/small"
    )


def test_a_model_that_cannot_read_the_message_is_skipped_and_said() -> None:
    compiled = router(calc(1, ALWAYS, target="local/tiny", name="R"))
    inp = message(has_image=True)
    decision = route(compiled, inp)
    outcome = apply_preference(compiled, decision, inp, preferred="local/small")
    assert not outcome.applied
    assert outcome.decision.model == decision.model == "local/tiny"
    assert outcome.decision.chain == decision.chain
    assert outcome.note == "your preference local/small skipped: does not accept images"
    assert outcome.decision.reason.endswith(outcome.note)


def test_a_model_the_policy_does_not_approve_is_skipped() -> None:
    compiled = router(calc(1, ALWAYS, target="local/small", name="R"))
    inp = message()
    only_small = Restriction(("local/small",), 'policy "Customer data"')
    decision = route(compiled, inp, restriction=only_small)
    outcome = apply_preference(
        compiled, decision, inp, preferred="anthropic/claude", restriction=only_small
    )
    assert not outcome.applied and outcome.decision.model == "local/small"
    assert 'not approved by policy "Customer data"' in outcome.note


def test_an_unknown_or_disabled_model_is_skipped() -> None:
    compiled = router(calc(1, ALWAYS, target="local/small", name="R"))
    inp = message()
    outcome = apply_preference(compiled, route(compiled, inp), inp, preferred="gone/model")
    assert not outcome.applied
    assert outcome.note == "your preference gone/model skipped: disabled or not in the catalog"


def test_preferring_the_router_s_own_choice_changes_nothing() -> None:
    compiled = router(calc(1, ALWAYS, target="local/small", name="R"))
    inp = message()
    decision = route(compiled, inp)
    outcome = apply_preference(compiled, decision, inp, preferred="local/small")
    assert outcome.applied and outcome.decision is decision
