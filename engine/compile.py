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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .conditions import CompiledCondition, compile_condition
from .errors import RuleError
from .facets import Facets, check_categories
from .features import Features
from .limits import (
    MAX_CONDITIONS_PER_RULE,
    MAX_COOLDOWN_MINUTES,
    MAX_KEYWORD_CHARS_PER_ROUTER,
    MAX_KEYWORDS_PER_ROUTER,
    MAX_REGEXES_PER_ROUTER,
    MAX_RULES_PER_ROUTER,
    pattern_counts,
)
from .profiles import ProfileResolution, check_name, resolve_profile, unknown_profile
from .regexes import Scanner
from .semantic import check_unit_interval, validate_examples
from .tiers import TierSpec, check_tiers, tier_of
from .types import ModelInfo, RouteInput, RouterSpec, RuleKind, RuleSpec

# provider, "/", model id (which may itself contain "/", e.g. OpenRouter ids); no spaces.
_MODEL_REF = re.compile(r"[^/\s]+/\S+")

ConditionResult = tuple[CompiledCondition, bool, Any]
# A rule's outcome: matched, did not match, or None — it tests the classifier's judgement
# (category, complexity), which is not known yet.
Outcome = bool | None


def is_model_ref(value: object) -> bool:
    return isinstance(value, str) and _MODEL_REF.fullmatch(value) is not None


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


def _check_ref(value: object, what: str, field: str, rule_id: int | None = None) -> None:
    if not is_model_ref(value):
        raise RuleError(
            f"{what}: '{value}' is not a model reference like provider/model-id",
            field,
            rule_id=rule_id,
        )


def check_router_size(rule_conditions: Sequence[Sequence[Mapping[str, Any]]]) -> None:
    """Raise `RuleError` if a router with rules holding these conditions (one sequence per
    rule, LLM rules' empty) is over the per-router limits (limits.py)."""
    if len(rule_conditions) > MAX_RULES_PER_ROUTER:
        raise RuleError(
            f"A router holds at most {MAX_RULES_PER_ROUTER:,} rules "
            f"(this one would have {len(rule_conditions):,})",
            "rules",
        )
    keywords = chars = regexes = 0
    for conditions in rule_conditions:
        more_keywords, more_chars, more_regexes = pattern_counts(conditions)
        keywords += more_keywords
        chars += more_chars
        regexes += more_regexes
    if keywords > MAX_KEYWORDS_PER_ROUTER:
        raise RuleError(
            f"A router's rules hold at most {MAX_KEYWORDS_PER_ROUTER:,} keywords in all "
            f"(this one would have {keywords:,})",
            "conditions",
        )
    if chars > MAX_KEYWORD_CHARS_PER_ROUTER:
        raise RuleError(
            f"A router's keywords hold at most {MAX_KEYWORD_CHARS_PER_ROUTER:,} characters in "
            f"all (this one would have {chars:,})",
            "conditions",
        )
    if regexes > MAX_REGEXES_PER_ROUTER:
        raise RuleError(
            f"A router's rules hold at most {MAX_REGEXES_PER_ROUTER:,} regexes in all "
            f"(this one would have {regexes:,})",
            "conditions",
        )


def check_rule_size(conditions: Sequence[Any]) -> None:
    if len(conditions) > MAX_CONDITIONS_PER_RULE:
        raise RuleError(
            f"A rule has at most {MAX_CONDITIONS_PER_RULE} conditions "
            f"(this one has {len(conditions):,})",
            "conditions",
        )


def _compile_rule(
    rule: RuleSpec, tiers: Mapping[str, TierSpec], categories: tuple[str, ...]
) -> CompiledRule:
    where = f'Rule "{rule.name}"'

    def fail(message: str, field: str | None) -> RuleError:
        return RuleError(f"{where}: {message}", field, rule_id=rule.id)

    if not isinstance(rule.name, str) or not rule.name.strip():
        raise RuleError(f"Rule {rule.id}: give the rule a name", "name", rule_id=rule.id)
    if rule.kind not in ("calculated", "llm", "semantic"):
        raise fail(f"unknown kind '{rule.kind}' (calculated, llm or semantic)", "kind")
    if rule.match not in ("all", "any"):
        raise fail(f"match must be 'all' or 'any', not '{rule.match}'", "match")
    profile = ""
    tier = tier_of(rule.target) if isinstance(rule.target, str) else None
    if rule.profile:
        try:
            profile = check_name(rule.profile, "profile", "profile")
        except RuleError as exc:
            raise fail(exc.message, "profile") from None
    elif tier is not None:
        if tier not in tiers:
            known = ", ".join(tiers) or "none"
            raise fail(
                f"targets the tier '{tier}', which this router does not have ({known})", "target"
            )
    else:
        _check_ref(rule.target, f"{where}: target", "target", rule.id)
    for ref in rule.fallbacks:
        _check_ref(ref, f"{where}: fallback", "fallbacks", rule.id)

    conditions: tuple[CompiledCondition, ...] = ()
    examples: tuple[str, ...] = ()
    threshold = 0.0
    margin: float | None = None
    if rule.kind == "calculated":
        if not rule.conditions:
            raise fail("add at least one condition", "conditions")
        try:
            check_rule_size(rule.conditions)
        except RuleError as exc:
            raise fail(exc.message, exc.field) from None
        compiled = []
        for number, raw in enumerate(rule.conditions, start=1):
            try:
                condition = compile_condition(raw)
            except RuleError as exc:
                raise fail(f"condition {number}: {exc.message}", exc.field) from None
            if condition.property == "category":
                wanted = raw.get("value")
                names = [wanted] if isinstance(wanted, str) else list(wanted or ())
                for name in names:
                    if name.strip().lower() not in categories:
                        raise fail(
                            f"condition {number}: '{name}' is not one of the router's "
                            f"categories ({', '.join(categories)})",
                            "value",
                        )
            compiled.append(condition)
        conditions = tuple(compiled)
    elif rule.kind == "semantic":
        try:
            examples = validate_examples(rule.examples)
        except ValueError as exc:
            raise fail(str(exc), "examples") from None
        try:
            threshold = check_unit_interval(rule.threshold, "threshold") or 0.0
            margin = check_unit_interval(rule.margin, "margin", optional=True)
        except ValueError as exc:
            raise fail(str(exc), "margin" if "margin" in str(exc) else "threshold") from None
    elif not isinstance(rule.description, str) or not rule.description.strip():
        raise fail("describe when this rule applies; the classifier reads it", "description")

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
    """Validate and precompile a router; raise `RuleError` on the first problem found."""
    _check_ref(spec.primary, "Primary model", "primary")
    if spec.classifier is not None:
        _check_ref(spec.classifier, "Classifier model", "classifier")
    for ref in spec.fallbacks:
        _check_ref(ref, "Fallback", "fallbacks")
    if spec.embedding_model:
        _check_ref(spec.embedding_model, "Embedding model", "embedding_model")
    if (
        isinstance(spec.cooldown_minutes, bool)
        or not isinstance(spec.cooldown_minutes, int)
        or not 0 <= spec.cooldown_minutes <= MAX_COOLDOWN_MINUTES
    ):
        raise RuleError(
            f"Cool-down: enter a whole number of minutes from 0 to {MAX_COOLDOWN_MINUTES:,}",
            "cooldown_minutes",
        )
    try:
        zone = ZoneInfo(spec.time_zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise RuleError(
            f"Time zone: '{spec.time_zone}' is not an IANA time zone like Europe/Paris",
            "time_zone",
        ) from None

    tiers = check_tiers(spec.tiers, spec.default_tier, is_ref=is_model_ref)
    categories = check_categories(spec.categories)
    check_router_size([rule.conditions for rule in spec.rules])
    rules = tuple(_compile_rule(rule, tiers, categories) for rule in spec.rules)
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
