"""The engine's data: what goes in (router specs, a message to route) and what comes out.

Everything here is a frozen, slotted dataclass of plain values so it can be built from
model rows at the edge (`routers/services.py`), cached, pickled and compared in tests.

A *model ref* is a string `provider/model-id`, e.g. `openai/gpt-4o`.

Inputs
  - `RouterSpec`: primary model, classifier model (defaults to the primary), fallback
    chain, sticky flag and cool-down, IANA time zone, version, the ordered rules, and the
    model catalog (`ref -> ModelInfo`) used by the capability filter.
  - `RuleSpec`: a calculated rule (conditions combined with "all" or "any") or an LLM rule
    (a plain-English description the classifier model judges), a target and own fallbacks.
    Conditions stay raw dicts `{"property", "operator", "value"}` here; `compile_router`
    validates them.
  - `RouteInput`: the new message and its context. `conversation_tokens` and `turns`, when
    given, override the computed values (the rule builder's test panel uses them).
  - `StickyState`: the rule and model that answered the thread last, and when.

Outputs
  - `Evaluation`: the result of evaluating the calculated rules, and which LLM rules must
    be offered to the classifier (at most one call per message).
  - `ClassifierPrompt` / `ClassifierVerdict`: the one classifier call and its outcome.
  - `Decision`: the model to call, the chain to fall back along, what was skipped and why,
    a one-line reason and a per-rule trace (`verdicts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from .profiles import ProfileResolution, ProfileSpec

from .facets import DEFAULT_CATEGORIES, Facets
from .tiers import TierSpec

RuleKind = Literal["calculated", "llm", "semantic"]
MatchMode = Literal["all", "any"]
Source = Literal["rule", "sticky", "primary", "tier"]
# Why a turn uses its tier (tiers.py): the user's choice, the workspace's tier, a rule that
# targets a tier, dynamic escalation by the classifier, or the router's default tier.
TierSource = Literal["user", "workspace", "rule", "escalation", "default"]
RuleStatus = Literal[
    "matched",
    "no_match",
    "disabled",
    "not_reached",
    "offered",
    "classifier_chose",
    "classifier_rejected",
    "skipped",
    "pending",
]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One catalog entry, as far as routing cares."""

    ref: str
    display_name: str
    context_window: int
    supports_images: bool
    # What profiles (profiles.py) select on: the model's family ("claude", "llama"), its size
    # class ("small", "medium", "large" or "" when unknown), tools, and USD per 1M tokens.
    family: str = ""
    size_class: str = ""
    supports_tools: bool = False
    input_price: float = 0.0
    output_price: float = 0.0


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule as stored; the position in `RouterSpec.rules` is its order."""

    id: int
    name: str
    kind: RuleKind
    target: str
    _: KW_ONLY
    enabled: bool = True
    match: MatchMode = "all"
    conditions: tuple[Mapping[str, Any], ...] = ()
    description: str = ""
    fallbacks: tuple[str, ...] = ()
    # Semantic rules: example utterances, cosine threshold (0–1), optional margin over the
    # runner-up of its run.
    examples: tuple[str, ...] = ()
    threshold: float = 0.7
    margin: float | None = None
    # A profile's name: the rule targets the catalog's best models for it (profiles.py), and
    # `target` is ignored.
    profile: str = ""


@dataclass(frozen=True, slots=True)
class RouterSpec:
    """A router at one version. `compile_router` turns it into a `CompiledRouter`."""

    id: int
    primary: str
    _: KW_ONLY
    name: str = ""
    version: int = 1
    # What caches of this exact rule set key on (compiled rules, classifier verdicts, example
    # embeddings): a router's published version and its draft can share a version number, so
    # the caller names them apart ("v3", "draft:17"). Empty: the version number.
    revision: str = ""
    rules: tuple[RuleSpec, ...] = ()
    models: Mapping[str, ModelInfo] = field(default_factory=dict)
    classifier: str | None = None
    fallbacks: tuple[str, ...] = ()
    sticky: bool = False
    cooldown_minutes: int = 30
    time_zone: str = "UTC"
    # The model that embeds messages and examples for semantic rules ("provider/model-id").
    embedding_model: str = ""
    # Profiles rules may target (built-in and admin-defined, by name) and the model families
    # this router prefers among a profile's models, first preferred first.
    profiles: Mapping[str, ProfileSpec] = field(default_factory=dict)
    preferred_families: tuple[str, ...] = ()
    # Named tiers (tiers.py); a rule targets one as "tier:<name>". No default tier: a message
    # no rule matches goes to the primary model, as in a router without tiers.
    tiers: tuple[TierSpec, ...] = ()
    default_tier: str = ""
    # Dynamic escalation: the classifier may promote a default-tier turn to a higher tier.
    escalation: bool = False
    # The categories the classifier chooses from (facets.py).
    categories: tuple[str, ...] = DEFAULT_CATEGORIES

    @property
    def classifier_model(self) -> str:
        return self.classifier or self.primary


@dataclass(frozen=True, slots=True)
class HistoryMessage:
    """A prior message of the thread; `images` counts attached images for token estimates."""

    role: str
    text: str
    images: int = 0


@dataclass(frozen=True, slots=True)
class RouteInput:
    """The new message and everything a condition may test."""

    text: str
    _: KW_ONLY
    now: datetime
    history: tuple[HistoryMessage, ...] = ()
    has_image: bool = False
    attachment_types: tuple[str, ...] = ()
    user: str = ""
    groups: tuple[str, ...] = ()
    workspace: str = ""
    workspace_tags: tuple[str, ...] = ()
    workspace_type: str = ""
    conversation_tokens: int | None = None
    turns: int | None = None
    # A tier asked for explicitly: by the user for this turn (`/tier`, `router:<slug>/<tier>`)
    # or by the workspace. Either bypasses the rules (tiers.py); an unknown name is ignored
    # and the reason says so.
    user_tier: str = ""
    workspace_tier: str = ""

    def __post_init__(self) -> None:
        # Time conditions are evaluated in the router's zone; a naive datetime would be
        # silently read as the server's local time.
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("RouteInput.now must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Restriction:
    """Only these models may see the message (a sensitive-data policy applied).
    `label` names the policies for reasons: `"Customer data"`."""

    models: tuple[str, ...]
    label: str


@dataclass(frozen=True, slots=True)
class StickyState:
    """What answered the thread last: kept for the cool-down when no rule matches."""

    rule_id: int
    model_ref: str
    answered_at: datetime


@dataclass(frozen=True, slots=True)
class ConditionVerdict:
    property: str
    operator: str
    expected: str
    observed: str
    matched: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "property": self.property,
            "operator": self.operator,
            "expected": self.expected,
            "observed": self.observed,
            "matched": self.matched,
        }


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """What happened to one rule. For calculated rules `conditions` holds the conditions
    that were evaluated, in order; the last one is the one that decided the rule ("all"
    stops at the first false condition, "any" at the first true one)."""

    rule_id: int
    name: str
    kind: RuleKind
    status: RuleStatus
    detail: str
    conditions: tuple[ConditionVerdict, ...] = ()
    # Semantic rules: {"score", "threshold", "margin", "nearest"} (score None when skipped).
    semantic: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "rule_id": self.rule_id,
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "detail": self.detail,
            "conditions": [c.to_dict() for c in self.conditions],
        }
        if self.semantic is not None:
            data["semantic"] = dict(self.semantic)
        return data


@dataclass(frozen=True, slots=True)
class ClassifierVerdict:
    """The outcome of the one classifier call. `rule_id`/`label` are None when the model
    said "none" or its answer was unusable (then `error` says why)."""

    rule_id: int | None
    label: str | None
    raw: str
    latency_ms: float
    input_tokens: int
    output_tokens: int
    error: str | None = None
    cached: bool = False
    # The conversation excerpt the classifier judged (history and the new message, as cut to
    # fit), so a reader can see why an earlier message steered this one.
    excerpt: str = ""
    # Asked in the same call when a rule needs them (facets.py) or escalation may apply.
    category: str | None = None
    complexity: str | None = None
    tier: str | None = None

    @property
    def facets(self) -> Facets:
        return Facets(self.category, self.complexity, self.error)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "label": self.label,
            "raw": self.raw,
            "latency_ms": self.latency_ms,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "error": self.error,
            "cached": self.cached,
            "excerpt": self.excerpt,
            "category": self.category,
            "complexity": self.complexity,
            "tier": self.tier,
        }


@dataclass(frozen=True, slots=True)
class ClassifierPrompt:
    """Everything needed for the classifier call.

    `labels` are the answers the model may give (one per offered rule, then "none");
    `choices` maps each rule label to its rule id. `cache_key` identifies identical
    (router, version, offered rules, excerpt) situations so a verdict can be reused.
    """

    model: str
    system: str
    user: str
    excerpt: str
    labels: tuple[str, ...]
    choices: tuple[tuple[str, int], ...]
    cache_key: str
    max_output_tokens: int = 16
    # Set when the call asks more than the rule: the answer is one value per field, in this
    # order ("rule", "category", "complexity", "tier"), each one of the field's values.
    fields: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def rule_id_for(self, label: str | None) -> int | None:
        if label is None:
            return None
        for choice, rule_id in self.choices:
            if choice == label:
                return rule_id
        return None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The calculated rules' outcome and the LLM rules to offer the classifier.

    `offered` holds the ids of the enabled LLM rules that stand before the first matching
    calculated rule (all enabled LLM rules when none matched): only these can still win.
    """

    router_id: int
    router_version: int
    matched_rule_id: int | None
    offered: tuple[int, ...]
    elapsed_us: float
    # Raw per-rule outcomes in rule order (see route.py); verdict objects are built only
    # when someone reads `Decision.verdicts`, because building ~75 frozen objects per
    # message would cost more than evaluating the rules.
    outcomes: tuple[Any, ...] = field(repr=False, compare=False, default=())
    features: Any = field(repr=False, compare=False, default=None)
    # Evaluation stopped at a run of semantic rules because no embedding was given: the
    # caller embeds `semantic_query_text(inp)` and evaluates again with it.
    needs_embedding: bool = False
    # The embedding outcome used (a `SemanticInput`) and each semantic rule's score.
    semantic: Any = field(repr=False, compare=False, default=None)
    semantic_scores: Mapping[int, Any] = field(repr=False, compare=False, default_factory=dict)
    # A rule testing category or complexity was reached before any certain match, and no
    # judgement was given: the classifier must be asked, then evaluation runs again.
    needs_facets: bool = False
    facets: Facets | None = None
    # The tier asked for explicitly (user or workspace): rules were not evaluated.
    forced_tier: tuple[str, TierSource] | None = None
    # Tiers the classifier may escalate the default tier to (default first), when no rule
    # can match and the router allows escalation; () otherwise.
    escalation: tuple[str, ...] = ()
    # Explicit tiers that were asked for but do not exist (for the reason line).
    unknown_tiers: tuple[str, ...] = ()

    @property
    def needs_classifier(self) -> bool:
        return bool(self.offered) or self.needs_facets or bool(self.escalation)


class VerdictSource(Protocol):
    def verdicts(self) -> tuple[RuleVerdict, ...]: ...


@dataclass(frozen=True, slots=True)
class Decision:
    """Which model answers, why, and what to fall back to."""

    source: Source
    rule_id: int | None
    rule_name: str | None
    rule_kind: RuleKind | None
    model: str | None
    chain: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    reason: str
    classifier: ClassifierVerdict | None
    classifier_called: bool
    decision_us: float
    router_id: int
    router_version: int
    trace: VerdictSource = field(repr=False, compare=False)
    # The embedding call made for semantic rules (a `SemanticInput`), if any.
    semantic: Any = field(repr=False, compare=False, default=None)
    # When the rule targets a profile: how the profile ranked the catalog.
    profile: ProfileResolution | None = field(compare=False, default=None)
    # The tier this turn used and why (None: no tier was involved), the unset tiers passed
    # on the way to a bound one, and the classifier's category/complexity when asked.
    tier: str | None = None
    tier_source: TierSource | None = None
    tier_via: tuple[str, ...] = ()
    category: str | None = None
    complexity: str | None = None

    @property
    def verdicts(self) -> tuple[RuleVerdict, ...]:
        """One verdict per rule, in rule order (built on first access, then memoised)."""
        return self.trace.verdicts()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data for logs, the routing badge and `--json` output."""
        return {
            "router_id": self.router_id,
            "router_version": self.router_version,
            "source": self.source,
            "rule_id": self.rule_id,
            "rule_name": self.rule_name,
            "rule_kind": self.rule_kind,
            "model": self.model,
            "chain": list(self.chain),
            "skipped": [{"model": ref, "reason": why} for ref, why in self.skipped],
            "reason": self.reason,
            "classifier": self.classifier.to_dict() if self.classifier else None,
            "classifier_called": self.classifier_called,
            "decision_us": round(self.decision_us, 1),
            "embedding": self.semantic.to_dict() if self.semantic is not None else None,
            "profile": self.profile_facts(),
            "tier": self.tier,
            "tier_source": self.tier_source,
            "tier_via": list(self.tier_via),
            "category": self.category,
            "complexity": self.complexity,
            "verdicts": [v.to_dict() for v in self.verdicts],
        }

    def profile_facts(self) -> dict[str, Any] | None:
        """The profile that chose the model and how the chosen model was scored, or None."""
        if self.profile is None:
            return None
        facts = self.profile.to_dict()
        chosen = self.profile.candidate(self.model or "")
        facts["name"] = self.profile.profile.name
        facts["score"] = chosen.score() if chosen is not None else ""
        return facts
