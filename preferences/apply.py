"""Applying a person's preference after the router decided (engine.preference), for the
planners of chat and `/v1`."""

from __future__ import annotations

from typing import Any

from engine.compile import CompiledRouter
from engine.preference import apply_preference
from engine.types import Decision, Restriction, RouteInput
from preferences.selectors import preference_model_for

ROUTED_SOURCES = ("rule", "sticky")


def preference_apply(
    *,
    user_id: int | None,
    router_id: int,
    compiled: CompiledRouter,
    decision: Decision,
    inp: RouteInput,
    restriction: Restriction | None = None,
    preferences: dict[int, str] | None = None,
) -> tuple[Decision, dict[str, Any] | None]:
    """The decision with the user's preferred model for its rule, and the facts to record
    ({"model", "applied", "note"}), or the decision as it was and None. `preferences` (rule
    id → model ref, from `preferences_for_router`) saves the query when the caller holds them."""
    if user_id is None or decision.rule_id is None or decision.source not in ROUTED_SOURCES:
        return decision, None
    if preferences is not None:
        preferred = preferences.get(decision.rule_id)
    else:
        preferred = preference_model_for(
            user_id=user_id, router_id=router_id, rule_id=decision.rule_id
        )
    if preferred is None:
        return decision, None
    outcome = apply_preference(
        compiled, decision, inp, preferred=preferred, restriction=restriction
    )
    return outcome.decision, outcome.facts()
