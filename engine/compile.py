"""Compiling a `RouterSpec` once per version into a `CompiledRouter`.

`compile_router` validates the router and every rule — enabled *and* disabled, so a rule
cannot be switched on later in a broken state — and raises `RuleError` naming the rule.
It precompiles what evaluation needs: condition tests, keyword matchers, RE2 patterns, the
scanner (all keyword first words and all regexes, found in one pass) and the time zone.

Callers cache the result keyed by (router id, revision): a published version never changes
and every edit of a draft bumps its revision, so a cached router never goes stale. RE2 pattern sets cannot be pickled, so a
`CompiledRouter` pickles as its spec and is recompiled on load — correct by construction
and cheap (well under a millisecond for a typical router).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from .conditions import CompiledCondition, compile_condition
from .errors import RuleError
from .facets import Facets
from .features import Features
from .profiles import ProfileResolution, check_name, resolve_profile, unknown_profile
from .regexes import Scanner
from .semantic import check_unit_interval, validate_examples
from .tiers import TierSpec, check_tiers, tier_of
from .types import ModelInfo, RouteInput, RouterSpec, RuleKind, RuleSpec
from .validation import Problem, for_people, is_model_ref, router_problems, size_problems

ConditionResult = tuple[CompiledCondition, bool, Any]
# A rule's outcome: matched, did not match, or None — it tests the classifier's judgement
# (category, complexity), which is not known yet.
Outcome = bool | None


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: int
    name: str
    kind: RuleKind
    enabled: bool
    match_any: bool
    conditions: tuple[CompiledCondition, ...]
    description: str
    target: str
    fallbacks: tuple[str, ...]
    summary: str  # all conditions joined with "and"/"or", for reasons and the UI
    examples: tuple[str, ...] = ()
    threshold: float = 0.0
    margin: float | None = None
    profile: str = ""
    # Some condition tests category or complexity (the classifier's judgement).
    needs_facets: bool = False

    @property
    def is_llm(self) -> bool:
        return self.kind == "llm"

    @property
    def tier(self) -> str | None:
        """The tier this rule targets, None when it targets a model."""
        return tier_of(self.target)

    @property
    def is_semantic(self) -> bool:
        return self.kind == "semantic"

    def evaluate(self, features: Features) -> tuple[bool, list[ConditionResult]]:
        """Whether the rule matches, and the conditions evaluated to find out.

        "all" stops at the first false condition and "any" at the first true one, so the
        last result is always the condition that decided the rule.
        """
        results: list[ConditionResult] = []
        stop_on = self.match_any
        for condition in self.conditions:
            matched, observed = condition.test(features)
            results.append((condition, matched, observed))
            if matched is stop_on:
                return stop_on, results
        return not stop_on, results

    def evaluate_known(self, features: Features) -> tuple[Outcome, list[ConditionResult]]:
        """`evaluate` before the classifier's judgement is known: conditions on category or
        complexity count as unknown, so the outcome is None unless the other conditions
        decide it alone ("all" with one false, "any" with one true)."""
        if not self.needs_facets or features.facets is not None:
            return self.evaluate(features)
        results: list[ConditionResult] = []
        stop_on = self.match_any
        unknown = False
        for condition in self.conditions:
            if condition.facet:
                unknown = True
                continue
            matched, observed = condition.test(features)
            results.append((condition, matched, observed))
            if matched is stop_on:
                return stop_on, results
        return (None if unknown else not stop_on), results


@dataclass(frozen=True, slots=True)
class CompiledRouter:
    spec: RouterSpec
    rules: tuple[CompiledRule, ...]
    rules_by_id: Mapping[int, CompiledRule]
    zone: ZoneInfo
    scanner: Scanner
    # Each profile a rule targets, resolved against the catalog once per compile.
    profiles: Mapping[str, ProfileResolution] = field(default_factory=dict)
    tiers: Mapping[str, TierSpec] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.spec.id

    @property
    def version(self) -> int:
        return self.spec.version

    @property
    def revision(self) -> str:
        """The key of this rule set in caches (see `RouterSpec.revision`)."""
        return self.spec.revision or str(self.spec.version)

    @property
    def primary(self) -> str:
        return self.spec.primary

    @property
    def models(self) -> Mapping[str, ModelInfo]:
        return self.spec.models

    @property
    def has_semantic(self) -> bool:
        return any(r.enabled and r.is_semantic for r in self.rules)

    def features(self, inp: RouteInput, facets: Facets | None = None) -> Features:
        return Features(inp, zone=self.zone, scanner=self.scanner, facets=facets)

    def __reduce__(self) -> tuple[object, ...]:
        return (compile_router, (self.spec,))


def check_router_size(rule_conditions: Sequence[Sequence[Mapping[str, Any]]]) -> None:
    """Raise `RuleError` if a router with rules holding these conditions (one sequence per
    rule, LLM rules' empty) is over the per-router limits (limits.py)."""
    for problem in size_problems(rule_conditions):
        raise RuleError(problem.message, problem.field)


def _rule_fields(rule: RuleSpec) -> dict[str, Any]:
    return {
        "name": rule.name,
        "kind": rule.kind,
        "match": rule.match,
        "conditions": rule.conditions,
        "description": rule.description,
        "target_model": rule.target,
        "target_profile": rule.profile,
        "fallbacks": rule.fallbacks,
        "examples": rule.examples,
        "threshold": rule.threshold,
        "margin": rule.margin,
    }


def spec_problems(spec: RouterSpec) -> list[Problem]:
    """Every problem of the router and its rules (`engine.validation`), located."""
    return router_problems(
        {
            "primary_model": spec.primary,
            "classifier_model": spec.classifier,
            "fallbacks": spec.fallbacks,
            "cooldown_minutes": spec.cooldown_minutes,
            "time_zone": spec.time_zone,
            "embedding_model": spec.embedding_model,
            "tiers": spec.tiers,
            "default_tier": spec.default_tier,
            "categories": spec.categories,
            "rules": [_rule_fields(rule) for rule in spec.rules],
        },
        stored=True,
    )


def _compile_rule(rule: RuleSpec) -> CompiledRule:
    # Validated by `spec_problems` first: here only the conversion.
    profile = check_name(rule.profile, "profile", "profile") if rule.profile else ""
    conditions: tuple[CompiledCondition, ...] = ()
    examples: tuple[str, ...] = ()
    threshold = 0.0
    margin: float | None = None
    if rule.kind == "calculated":
        conditions = tuple(compile_condition(raw) for raw in rule.conditions)
    elif rule.kind == "semantic":
        examples = validate_examples(rule.examples)
        threshold = check_unit_interval(rule.threshold, "threshold") or 0.0
        margin = check_unit_interval(rule.margin, "margin", optional=True)

    joiner = " or " if rule.match == "any" else " and "
    return CompiledRule(
        id=rule.id,
        name=rule.name,
        kind=rule.kind,
        enabled=bool(rule.enabled),
        match_any=rule.match == "any",
        conditions=conditions,
        description=rule.description.strip() if rule.kind == "llm" else "",
        target=rule.target,
        fallbacks=tuple(rule.fallbacks),
        summary=joiner.join(c.summary for c in conditions),
        examples=examples,
        threshold=threshold,
        margin=margin,
        profile=profile,
        needs_facets=any(c.facet for c in conditions),
    )


def compile_router(spec: RouterSpec) -> CompiledRouter:
    """Validate and precompile a router; raise `RuleError` on the first problem found
    (`spec_problems` lists them all), located as people read it: 'rule 3 “Tickets”,
    condition 1, value: Regex: …'."""
    for problem in spec_problems(spec):
        rule_id, field = None, problem.field
        if where := re.match(r"rules\[(\d+)\]\.?(\w*)", problem.location):
            rule_id, field = spec.rules[int(where[1])].id, where[2] or "rules"
        names = [rule.name for rule in spec.rules]
        raise RuleError(for_people(problem, names), field, rule_id=rule_id)
    zone = ZoneInfo(spec.time_zone)
    tiers = check_tiers(spec.tiers, spec.default_tier, is_ref=is_model_ref)

    rules = tuple(_compile_rule(rule) for rule in spec.rules)
    by_id: dict[int, CompiledRule] = {}
    for rule in rules:
        if rule.id in by_id:
            raise RuleError(f"Two rules share the id {rule.id}", rule_id=rule.id)
        by_id[rule.id] = rule

    profiles: dict[str, ProfileResolution] = {}
    for rule in rules:
        if rule.profile and rule.profile not in profiles:
            spec_profile = spec.profiles.get(rule.profile)
            # A profile deleted after the rule was written leaves the rule without models
            # (the decision says why and falls back) rather than breaking the whole router.
            profiles[rule.profile] = (
                resolve_profile(spec_profile, spec.models, spec.preferred_families)
                if spec_profile is not None
                else unknown_profile(rule.profile, spec.models)
            )

    # Only enabled rules are ever evaluated, so only their patterns join the banks.
    live = [c for r in rules if r.enabled for c in r.conditions]
    return CompiledRouter(
        spec=spec,
        rules=rules,
        rules_by_id=by_id,
        zone=zone,
        scanner=Scanner(
            {k.key: k for c in live for k in c.keywords}.values(),
            dict.fromkeys(c.regex for c in live if c.regex is not None),
        ),
        profiles=profiles,
        tiers=tiers,
    )
