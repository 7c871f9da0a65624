"""The routing facts of one message: one typed record from the decision to the badge, the
`x-routerweb-*` headers and the decision log.

The planner (`planning/`) builds a `RoutingFacts` for every plan — routed, pinned, refused —
and every reader takes it from there: the chat stores `to_dict()` on the answer (the badge reads
that), `/v1` writes its headers from the fields, `decisions.log.answer_payload` logs them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine import Decision

# Several policies may apply to one message: the log names the strongest action among them.
POLICY_STRENGTH = ("refuse", "restrict", "mask")


@dataclass(frozen=True)
class RoutingFacts:
    # Where the model came from: "rule", "sticky", "primary" (no rule, or an invalid router),
    # "override" (a pin or pick), "workspace" (its own model); or why nothing was sent:
    # "policy", "budget", "limit", "router" (no longer usable), "model" (not enabled).
    source: str
    model: str = ""
    reason: str = ""
    # The router that decided (or whose primary model answered); "" when none was involved.
    router: str = ""
    router_id: int | None = None
    router_version: int = 0
    rule_id: int | None = None
    rule_name: str = ""
    rule_kind: str = ""
    skipped: tuple[tuple[str, str], ...] = ()
    classifier: Mapping[str, Any] | None = None  # engine.ClassifierVerdict.to_dict()
    classifier_called: bool = False
    decision_us: float = 0.0
    embedding: Mapping[str, Any] | None = None
    # When a rule targets a profile: which profile chose the model and how it was scored
    # (engine.Decision.profile_facts()).
    profile: Mapping[str, Any] | None = None
    # The tier the turn used ("": none) and why (user, workspace, rule, escalation, default),
    # the unset tiers fallen back from, and the classifier's category and complexity.
    tier: str = ""
    tier_source: str = ""
    tier_via: tuple[str, ...] = ()
    category: str = ""
    complexity: str = ""
    # Data policies that applied (names, actions, kinds of data — never the data).
    policy: Mapping[str, Any] | None = None
    # The budget that stepped the routing down or refused it.
    budget: Mapping[str, Any] | None = None
    # The person's preferred model for the rule ({"model", "applied", "note"}), when they have one.
    preference: Mapping[str, Any] | None = None
    # The experiment whose arm routed the message ({"id", "name", "arm", "version"}).
    experiment: Mapping[str, Any] | None = None
    # The engine's decision, for its per-rule verdicts: built only where they are shown or
    # logged, since building them costs more than routing.
    decision: Decision | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of_decision(cls, decision: Decision, *, router: Any) -> RoutingFacts:
        return cls(
            source=decision.source,
            model=decision.model or "",
            reason=decision.reason,
            router=router.name,
            router_id=router.pk,
            router_version=router.version,
            rule_id=decision.rule_id,
            rule_name=decision.rule_name or "",
            rule_kind=decision.rule_kind or "",
            skipped=tuple(decision.skipped),
            classifier=decision.classifier.to_dict() if decision.classifier else None,
            classifier_called=decision.classifier_called,
            decision_us=round(decision.decision_us, 1),
            embedding=decision.semantic.to_dict() if decision.semantic is not None else None,
            profile=decision.profile_facts(),
            tier=decision.tier or "",
            tier_source=decision.tier_source or "",
            tier_via=tuple(decision.tier_via),
            category=decision.category or "",
            complexity=decision.complexity or "",
            decision=decision,
        )

    @property
    def routed(self) -> bool:
        """A router was involved (the decision is logged and counted for it)."""
        return self.router_id is not None

    def verdicts(self) -> list[dict[str, Any]]:
        return [v.to_dict() for v in self.decision.verdicts] if self.decision is not None else []

    def with_note(self, line: str) -> RoutingFacts:
        """The reason with one more line (a policy's or a budget's)."""
        reason = f"{self.reason} · {line}" if self.reason else line
        return dataclasses.replace(self, reason=reason)

    def with_policy(self, policy: Mapping[str, Any]) -> RoutingFacts:
        summary = policy["summary"]
        reason = f"{self.reason} · {summary}" if self.reason else summary.capitalize()
        return dataclasses.replace(self, policy=policy, reason=reason)

    def with_budget(self, budget: Mapping[str, Any]) -> RoutingFacts:
        return dataclasses.replace(self, budget=budget).with_note(budget["reason"])

    def log_fields(self) -> dict[str, str]:
        """What the decision log keeps of the profile, the policies and the budget, as plain
        columns an operator filters on: the profile's name, the policies' names (never what
        they found) and their strongest action, the budget's name and step."""
        hits = [h for h in (self.policy or {}).get("hits") or () if isinstance(h, Mapping)]
        actions = {str(h.get("action") or "") for h in hits}
        budget = self.budget or {}
        return {
            "profile": str((self.profile or {}).get("name") or "")[:40],
            "policy": ", ".join(dict.fromkeys(str(h.get("policy") or "") for h in hits))[:300],
            "policy_action": next((a for a in POLICY_STRENGTH if a in actions), ""),
            "budget": str(budget.get("name") or "")[:100],
            "budget_step": str(budget.get("step") or "")[:16],
        }

    def to_dict(self, *, verdicts: bool = True) -> dict[str, Any]:
        """The stored shape (an answer's `routing`, read by the badge)."""
        data: dict[str, Any] = {"source": self.source, "model": self.model, "reason": self.reason}
        if self.routed:
            data.update(
                router=self.router,
                router_id=self.router_id,
                router_version=self.router_version,
                rule_id=self.rule_id,
                rule_name=self.rule_name or None,
                rule_kind=self.rule_kind or None,
                skipped=[{"model": ref, "reason": why} for ref, why in self.skipped],
                classifier=dict(self.classifier) if self.classifier else None,
                classifier_called=self.classifier_called,
                decision_us=self.decision_us,
                embedding=dict(self.embedding) if self.embedding else None,
                profile=dict(self.profile) if self.profile else None,
                tier=self.tier or None,
                tier_source=self.tier_source or None,
                tier_via=list(self.tier_via),
                category=self.category or None,
                complexity=self.complexity or None,
            )
            if verdicts and self.decision is not None:
                data["verdicts"] = self.verdicts()
        if self.policy:
            data["policy"] = dict(self.policy)
        if self.budget:
            data["budget"] = dict(self.budget)
        if self.preference:
            data["preference"] = dict(self.preference)
        if self.experiment:
            data["experiment"] = dict(self.experiment)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoutingFacts:
        """The facts stored on an answer (`to_dict`), typed again."""
        return cls(
            source=str(data.get("source") or ""),
            model=str(data.get("model") or ""),
            reason=str(data.get("reason") or ""),
            router=str(data.get("router") or ""),
            router_id=data.get("router_id"),
            router_version=int(data.get("router_version") or 0),
            rule_id=data.get("rule_id"),
            rule_name=str(data.get("rule_name") or ""),
            rule_kind=str(data.get("rule_kind") or ""),
            skipped=tuple((s["model"], s["reason"]) for s in data.get("skipped") or ()),
            classifier=data.get("classifier"),
            classifier_called=bool(data.get("classifier_called")),
            decision_us=float(data.get("decision_us") or 0),
            embedding=data.get("embedding"),
            profile=data.get("profile"),
            tier=str(data.get("tier") or ""),
            tier_source=str(data.get("tier_source") or ""),
            tier_via=tuple(str(t) for t in data.get("tier_via") or ()),
            category=str(data.get("category") or ""),
            complexity=str(data.get("complexity") or ""),
            policy=data.get("policy"),
            budget=data.get("budget"),
            preference=data.get("preference"),
            experiment=data.get("experiment"),
        )
