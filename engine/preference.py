"""A person's preferred model for a rule, applied after routing.

The router decides as always; then, when the winning rule is one the person has a preferred
model for, that model goes to the head of the chain — if it is suitable: enabled, accepted by
the data policy, able to read the message (images, context). Otherwise the router's chain stands
and the reason says why the preference was skipped. Budgets step down afterwards, as for any
chain, so they still win.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from engine.compile import CompiledRouter
from engine.route import _filter
from engine.types import Decision, Restriction, RouteInput


@dataclass(frozen=True, slots=True)
class PreferenceOutcome:
    decision: Decision
    model: str  # the preferred model asked for
    applied: bool
    note: str  # why it was skipped, or ""

    def facts(self) -> dict[str, object]:
        """For the badge and the log."""
        return {"model": self.model, "applied": self.applied, "note": self.note}


def apply_preference(
    router: CompiledRouter,
    decision: Decision,
    inp: RouteInput,
    *,
    preferred: str,
    restriction: Restriction | None = None,
) -> PreferenceOutcome:
    """`decision` with `preferred` first in its chain when it is suitable."""
    if decision.model == preferred:
        return PreferenceOutcome(decision, preferred, True, "")
    chain, skipped, _ = _filter(
        router, (preferred, *decision.chain), router.features(inp), restriction
    )
    if not chain or chain[0] != preferred:
        why = next((w for ref, w in skipped if ref == preferred), "not suitable")
        if why == "not in the catalog":
            why = "disabled or not in the catalog"
        note = f"your preference {preferred} skipped: {why}"
        return PreferenceOutcome(
            dataclasses.replace(decision, reason=f"{decision.reason} — {note}"),
            preferred,
            False,
            note,
        )
    reason = f"{decision.reason} — your preference: {preferred} instead of {decision.model}"
    return PreferenceOutcome(
        dataclasses.replace(decision, model=preferred, chain=tuple(chain), reason=reason),
        preferred,
        True,
        "",
    )
