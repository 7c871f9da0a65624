"""Applying a person's preference after the router decided (engine.preference), for the
planners of chat and `/v1`."""

from __future__ import annotations

from typing import Any

from engine.compile import CompiledRouter
from engine.preference import apply_preference
from engine.types import Decision, Restriction, RouteInput

ROUTED_SOURCES = ("rule", "sticky")


def preference_apply(
    *,
    compiled: CompiledRouter,
    decision: Decision,
    inp: RouteInput,
    preferences: dict[str, str],
    restriction: Restriction | None = None,
) -> tuple[Decision, dict[str, Any] | None]:
    """The decision with the user's preferred model for its rule (or, failing that, for the
    tier it went to), and the facts to record ({"model", "applied", "note", "for"}), or the
    decision as it was and None. `preferences` is `preferences_for_router`'s map."""
    if not preferences:
        return decision, None
    preferred, target = None, ""
    if decision.rule_id is not None and decision.source in ROUTED_SOURCES:
        preferred, target = preferences.get(f"rule:{decision.rule_id}"), "rule"
    if preferred is None and decision.tier:
        preferred, target = preferences.get(f"tier:{decision.tier}"), "tier"
    if preferred is None:
        return decision, None
    outcome = apply_preference(
        compiled, decision, inp, preferred=preferred, restriction=restriction
    )
    return outcome.decision, {**outcome.facts(), "for": target}
