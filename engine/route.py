"""Routing one message: evaluate → (one classifier call) → decide.

Order semantics. Rules form one ordered list mixing calculated and LLM rules; the first
rule that matches wins.

1. `evaluate` walks the rules in order, skipping disabled ones, and evaluates each
   enabled calculated rule until one matches. The enabled LLM rules standing *before*
   that rule (all of them if none matched) are `offered`: only they can still beat it.
   `needs_classifier` is true iff something is offered.
2. The caller makes at most one classifier call for the offered rules
   (`build_classifier_prompt`, classifier.py) — or none at all when nothing is offered.
3. `decide` picks, in this order: the LLM rule the classifier chose (it stands before any
   calculated winner by construction); else the first matching calculated rule; else,
   for a sticky router, the model that answered the thread last, if its rule still exists
   and is enabled and `now - answered_at <= cool-down`; else the primary model.
4. Capability filter: the candidate chain — chosen model, the rule's own fallbacks, the
   router's fallbacks, the primary — is de-duplicated in order, and a model is skipped
   when it is not in the catalog, when the message has an image and it does not accept
   images, or when the conversation's estimated tokens exceed its context window.
   `Decision.model` is the first suitable model (None if there is none, and the reason
   says so); `Decision.chain` is every suitable model, in order, for fallbacks.

`route` does all of this for callers with a synchronous classifier; async callers call
`evaluate`, their classifier, and `decide`. If the classifier raises or answers anything
but one offered label, no LLM rule matches and the reason says why.

Tiers (tiers.py). A tier the user or the workspace asks for explicitly bypasses the
rules; otherwise a rule may target a tier, and a message no rule matches goes to the default
tier (when the router has one), which the classifier may escalate to a higher tier when the
router allows it. A tier answers with the first bound model of its fallback ladder, else the
primary model.

Category and complexity (facets.py). A calculated rule testing them is *unknown* until the
classifier has judged the message: `evaluate` without `facets` goes on past it (it might
not match) and sets `needs_facets`; the LLM rules offered are those before the first
*certain* match. The one classifier call then answers the offered rules, the facets and the
escalation together, and `evaluate` runs again with the facets — so a message costs at most
one call, and none when no rule needing it is reached. A classifier that fails leaves the
facets unknown, and a condition on an unknown facet matches nothing.

`decision_us` is engine time only: evaluation, prompt building and the decision, never
the classifier call itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import timedelta
from time import perf_counter_ns
from typing import Any

from .classifier import build_classifier_prompt
from .compile import CompiledRouter, CompiledRule, ConditionResult
from .facets import Facets
from .features import Features
from .profiles import ProfileResolution
from .semantic import SemanticInput, SemanticScore, judge_run
from .tiers import higher_tiers, is_higher, ladder, tier_models
from .types import (
    ClassifierPrompt,
    ClassifierVerdict,
    ConditionVerdict,
    Decision,
    Evaluation,
    Restriction,
    RouteInput,
    RuleStatus,
    RuleVerdict,
    Source,
    StickyState,
    TierSource,
)


def _explicit_tier(
    router: CompiledRouter, inp: RouteInput
) -> tuple[tuple[str, TierSource] | None, tuple[str, ...]]:
    """The tier the user or the workspace asked for, if the router has it, and the names
    asked for that it does not have."""
    unknown: list[str] = []
    asked: tuple[tuple[str, TierSource], ...] = (
        (inp.user_tier, "user"),
        (inp.workspace_tier, "workspace"),
    )
    for name, source in asked:
        if not name:
            continue
        if name in router.tiers:
            return (name, source), tuple(unknown)
        unknown.append(name)
    return None, tuple(unknown)


def evaluate(
    router: CompiledRouter,
    inp: RouteInput,
    *,
    semantic: SemanticInput | None = None,
    facets: Facets | None = None,
) -> Evaluation:
    """Evaluate the rules in order (see the module docstring).

    A run of semantic rules needs the message's embedding: without `semantic` evaluation
    stops there with `needs_embedding` set (nothing after the run is evaluated), so the
    caller embeds only when a semantic rule is actually reached, then evaluates again.
    Likewise a rule on category/complexity without `facets` sets `needs_facets`.
    """
    started = perf_counter_ns()
    features = router.features(inp, facets)
    forced, unknown_tiers = _explicit_tier(router, inp)
    if forced is not None:
        return Evaluation(
            router_id=router.id,
            router_version=router.version,
            matched_rule_id=None,
            offered=(),
            elapsed_us=(perf_counter_ns() - started) / 1000,
            features=features,
            semantic=semantic,
            facets=facets,
            forced_tier=forced,
            unknown_tiers=unknown_tiers,
        )
    # One entry per rule reached, in order: the evaluated conditions of a calculated
    # rule, or None for disabled, LLM and semantic rules. Rules after the winner get no entry.
    outcomes: list[list[ConditionResult] | None] = []
    offered: list[int] = []
    matched_id: int | None = None
    needs_embedding = False
    needs_facets = False
    scores: dict[int, SemanticScore] = {}
    rules = router.rules
    index = 0
    while index < len(rules):
        rule = rules[index]
        if not rule.enabled:
            outcomes.append(None)
        elif rule.is_llm:
            offered.append(rule.id)
            outcomes.append(None)
        elif rule.is_semantic:
            end = index
            while end < len(rules) and (not rules[end].enabled or rules[end].is_semantic):
                end += 1
            if semantic is None:
                needs_embedding = True
                break
            run = [r for r in rules[index:end] if r.enabled]
            winner, run_scores = judge_run(run, semantic)
            scores.update(run_scores)
            outcomes.extend([None] * (end - index))
            if winner is not None:
                matched_id = winner
                break
            index = end
            continue
        else:
            outcome, results = rule.evaluate_known(features)
            outcomes.append(results)
            if outcome is None:
                needs_facets = True
            elif outcome:
                matched_id = rule.id
                break
        index += 1
    escalation: tuple[str, ...] = ()
    spec = router.spec
    if spec.escalation and spec.default_tier and matched_id is None and not needs_embedding:
        higher = higher_tiers(router.tiers, spec.default_tier)
        if higher:
            escalation = (spec.default_tier, *higher)
    return Evaluation(
        router_id=router.id,
        router_version=router.version,
        matched_rule_id=matched_id,
        offered=tuple(offered),
        elapsed_us=(perf_counter_ns() - started) / 1000,
        outcomes=tuple(outcomes),
        features=features,
        needs_embedding=needs_embedding,
        semantic=semantic,
        semantic_scores=scores,
        needs_facets=needs_facets,
        facets=facets,
        escalation=escalation,
        unknown_tiers=unknown_tiers,
    )


def _minutes(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() // 60))


def _classifier_note(
    verdict: ClassifierVerdict | None, evaluation: Evaluation, router: CompiledRouter
) -> str:
    """Why the classifier did not pick a rule, for the reason line ("" if it did)."""
    offered = evaluation.offered
    if verdict is None:
        return ""
    if verdict.error:
        return f" (classifier answer not used: {verdict.error})"
    if verdict.rule_id is None:
        return " (classifier said none)" if verdict.label is not None or offered else ""
    if verdict.rule_id not in offered and not (
        # Offered before the facets were known; an earlier rule matched once they were.
        evaluation.facets is not None
        and _stands_after_winner(router, verdict.rule_id, evaluation.matched_rule_id)
    ):
        named = router.rules_by_id.get(verdict.rule_id)
        which = f"“{named.name}”" if named is not None else "a rule"
        return f" (the classifier named {which}, which was not offered)"
    return ""


def _stands_after_winner(router: CompiledRouter, rule_id: int, winner_id: int | None) -> bool:
    """The classifier's pick was offered, but a rule before it matched once the facets were
    known: it simply lost, which needs no note."""
    if winner_id is None:
        return False
    order = [rule.id for rule in router.rules]
    return rule_id in order and winner_id in order and order.index(rule_id) > order.index(winner_id)


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _semantic_note(evaluation: Evaluation) -> str:
    """Why semantic rules could not be judged, for the reason line ("" if they were)."""
    if evaluation.needs_embedding:
        return " (semantic rules not evaluated)"
    semantic = evaluation.semantic
    if semantic is not None and semantic.error and evaluation.semantic_scores:
        return f" (semantic rules skipped: {semantic.error})"
    return ""


def _profile_note(profile: ProfileResolution, model: str | None) -> str:
    """What the profile chose and how, for the reason line."""
    name = profile.profile.name
    if profile.error:
        return f" → profile “{name}” is {profile.error}; falling back"
    if not profile.candidates:
        return f" → profile “{name}” ({profile.profile.requirements()}): no model qualifies"
    chosen = profile.candidate(model or "")
    if chosen is None:
        return f" → profile “{name}”: none of its models is suitable for this message"
    place = profile.candidates.index(chosen) + 1
    return (
        f" → profile “{name}” chose {chosen.ref} ({chosen.score()}; "
        f"#{place} of {len(profile.candidates)})"
    )


def _sticky_rule(
    router: CompiledRouter, sticky: StickyState | None, inp: RouteInput
) -> CompiledRule | None:
    spec = router.spec
    if not spec.sticky or sticky is None:
        return None
    rule = router.rules_by_id.get(sticky.rule_id)
    if rule is None or not rule.enabled:
        return None
    if inp.now - sticky.answered_at > timedelta(minutes=spec.cooldown_minutes):
        return None
    return rule


def _filter(
    router: CompiledRouter,
    candidates: Sequence[str],
    features: Features,
    approved: Restriction | None = None,
) -> tuple[list[str], list[tuple[str, str]], int]:
    """Suitable models in order, skipped ones with reasons, and how many were skipped
    before the first suitable one."""
    models = router.models
    needs_images = features.inp.has_image
    tokens = features.conversation_tokens
    chain: list[str] = []
    skipped: list[tuple[str, str]] = []
    skipped_first = 0
    for ref in dict.fromkeys(candidates):
        info = models.get(ref)
        if approved is not None and ref not in approved.models:
            why = f"not approved by {approved.label}"
        elif info is None:
            why = "not in the catalog"
        elif needs_images and not info.supports_images:
            why = "does not accept images"
        elif info.context_window < tokens:
            why = (
                f"conversation (~{tokens:,} tokens) exceeds its "
                f"{info.context_window:,}-token context"
            )
        else:
            chain.append(ref)
            continue
        skipped.append((ref, why))
        if not chain:
            skipped_first += 1
    return chain, skipped, skipped_first


def decide(
    router: CompiledRouter,
    evaluation: Evaluation,
    *,
    classifier: ClassifierVerdict | None = None,
    sticky: StickyState | None = None,
    inp: RouteInput,
    restriction: Restriction | None = None,
) -> Decision:
    """`restriction` (from a policy) limits the chain to approved models: the router's own
    choices that are approved come first, then the remaining approved models in the
    policy's order, so the router picks among them."""
    started = perf_counter_ns()
    features = evaluation.features
    if features is None or features.inp is not inp:
        features = router.features(inp)
    offered = evaluation.offered
    note = _classifier_note(classifier, evaluation, router)
    if evaluation.unknown_tiers:
        asked = ", ".join(f"“{name}”" for name in evaluation.unknown_tiers)
        note += f" (tier {asked} asked for is not one of this router's tiers; ignored)"

    source: Source = "rule"
    rule: CompiledRule | None = None
    tier: str | None = None
    tier_source: TierSource | None = None
    if evaluation.forced_tier is not None:
        source = "tier"
        tier, tier_source = evaluation.forced_tier
        who = "you chose it" if tier_source == "user" else "the workspace's tier"
        reason = f"Tier “{tier}” ({who}); rules not consulted"
        head = router.primary
    elif (
        classifier is not None and classifier.rule_id is not None and classifier.rule_id in offered
    ):
        rule = router.rules_by_id[classifier.rule_id]
        # Named by the rule's name: the label it was offered under ("r1") means nothing to
        # a reader.
        how = f"{router.spec.classifier_model}, {classifier.latency_ms:,.0f} ms"
        if classifier.cached:
            how += ", cached"
        reason = f'Rule "{rule.name}" chosen by the classifier ({how})'

        head = rule.target
    elif evaluation.matched_rule_id is not None:
        rule = router.rules_by_id[evaluation.matched_rule_id]
        if rule.is_semantic:
            score = evaluation.semantic_scores[rule.id]
            why = (
                f"similar to “{_short(score.nearest)}” ({score.score:.2f} ≥ {score.threshold:.2f})"
            )
        else:
            # For "any" only the condition that held explains the match.
            last = evaluation.outcomes[-1]
            why = last[-1][0].summary if rule.match_any and last else rule.summary
            if rule.needs_facets and evaluation.facets is not None:
                why += f" ({_facets_shown(evaluation.facets)})"
        reason = f'Rule "{rule.name}": {why}{note}'
        head = rule.target
    elif sticky is not None and (rule := _sticky_rule(router, sticky, inp)) is not None:
        source = "sticky"
        ago = _minutes(inp.now - sticky.answered_at)
        reason = (
            f'Sticky: kept {sticky.model_ref} from rule "{rule.name}" '
            f"(answered {ago} min ago, cool-down {router.spec.cooldown_minutes} min){note}"
        )
        head = sticky.model_ref
    elif router.spec.default_tier:
        source = "primary"
        tier, tier_source = router.spec.default_tier, "default"
        reason = f"No rule matched{note}{_semantic_note(evaluation)}; default tier “{tier}”"
        wanted = classifier.tier if classifier is not None and not classifier.error else None
        if wanted and wanted in evaluation.escalation and is_higher(router.tiers, wanted, tier):
            reason += f", escalated to “{wanted}” by the classifier"
            tier, tier_source = wanted, "escalation"
        head = router.primary
    else:
        source = "primary"
        reason = f"No rule matched{note}{_semantic_note(evaluation)}; primary model"
        head = router.primary

    ladder_models: tuple[str, ...] = ()
    via: tuple[str, ...] = ()
    if tier is None and rule is not None and source == "rule" and rule.tier is not None:
        tier, tier_source = rule.tier, "rule"
    if tier is not None:
        bound = tier_models(router.tiers, tier)
        if bound:
            answering_tier, head = bound[0]
            ladder_models = tuple(model for _, model in bound[1:])
            steps = ladder(router.tiers, tier)
            via = steps[: steps.index(answering_tier)]
            if via:
                reason += f" → “{answering_tier}” (“{'”, “'.join(via)}” unset)"
        else:
            via = ladder(router.tiers, tier)
            reason += " → primary model (no tier on its ladder has a model)"
        if source == "tier":
            reason += note

    heads: tuple[str, ...] = (head,)
    profile = None
    if source == "rule" and rule is not None and rule.profile:
        # The profile's models, best first, stand where the rule's model would.
        profile = router.profiles[rule.profile]
        heads = profile.chain
    candidates = (
        *heads,
        *(rule.fallbacks if rule and source == "rule" else ()),
        *ladder_models,
        *router.spec.fallbacks,
        router.primary,
    )
    if restriction is not None:
        candidates = (*candidates, *restriction.models)
    chain, skipped, skipped_first = _filter(router, candidates, features, restriction)
    if profile is not None:
        reason += _profile_note(profile, chain[0] if chain else None)
    if not chain:
        reason += " — no suitable model: " + "; ".join(f"{r}: {why}" for r, why in skipped)
    elif skipped_first:
        reason += " — skipped " + "; ".join(f"{r}: {why}" for r, why in skipped[:skipped_first])

    winner_id = rule.id if rule is not None and source == "rule" else None
    elapsed_us = evaluation.elapsed_us + (perf_counter_ns() - started) / 1000
    judged = classifier if classifier is not None and not classifier.error else None
    return Decision(
        source=source,
        rule_id=rule.id if rule else None,
        rule_name=rule.name if rule else None,
        rule_kind=rule.kind if rule else None,
        model=chain[0] if chain else None,
        chain=tuple(chain),
        skipped=tuple(skipped),
        reason=reason,
        classifier=classifier,
        classifier_called=classifier is not None and not classifier.cached,
        decision_us=elapsed_us,
        router_id=router.id,
        router_version=router.version,
        trace=_Trace(router, evaluation, features, winner_id, classifier),
        semantic=evaluation.semantic,
        profile=profile,
        tier=tier,
        tier_source=tier_source,
        tier_via=via,
        category=judged.category if judged is not None else None,
        complexity=judged.complexity if judged is not None else None,
    )


def _facets_shown(facets: Facets) -> str:
    if facets.error:
        return "category and complexity unknown: the classifier gave none"
    return f"classifier: {facets.category}, {facets.complexity}"


def route(
    router: CompiledRouter,
    inp: RouteInput,
    *,
    classify: Callable[[ClassifierPrompt], ClassifierVerdict] | None = None,
    sticky: StickyState | None = None,
    embed: Callable[[RouteInput], SemanticInput] | None = None,
    restriction: Restriction | None = None,
) -> Decision:
    evaluation = evaluate(router, inp)
    if evaluation.needs_embedding and embed is not None:
        evaluation = evaluate(router, inp, semantic=embed(inp))
    if restriction is not None and router.spec.classifier_model not in restriction.models:
        # A message that may not go to a model may not be classified by it either.
        classify = None
    if not evaluation.needs_classifier or classify is None:
        if evaluation.needs_facets:
            why = "no classifier was asked" if classify is None else "unknown"
            evaluation = evaluate(
                router, inp, semantic=evaluation.semantic, facets=Facets(None, None, why)
            )
        return decide(router, evaluation, sticky=sticky, inp=inp, restriction=restriction)

    started = perf_counter_ns()
    prompt = build_classifier_prompt(router, evaluation, inp)
    prompt_us = (perf_counter_ns() - started) / 1000
    called = perf_counter_ns()
    try:
        verdict = classify(prompt)
    except Exception as exc:  # noqa: BLE001 — a failing classifier must not fail routing
        verdict = ClassifierVerdict(
            rule_id=None,
            label=None,
            raw="",
            latency_ms=(perf_counter_ns() - called) / 1e6,
            input_tokens=0,
            output_tokens=0,
            error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
        )
    verdict = dataclasses.replace(verdict, excerpt=prompt.excerpt)
    if evaluation.needs_facets:
        evaluation = evaluate(router, inp, semantic=evaluation.semantic, facets=verdict.facets)
    decision = decide(
        router, evaluation, classifier=verdict, sticky=sticky, inp=inp, restriction=restriction
    )
    return dataclasses.replace(decision, decision_us=decision.decision_us + prompt_us)


class _Trace:
    """Builds `Decision.verdicts` from the raw evaluation on first access.

    Routing itself never reads the verdicts; only logs, the badge and the test panel do.
    Building them eagerly (a frozen object per rule and per condition, plus formatted
    observations) would cost more than evaluating the rules, so it waits until asked.
    """

    __slots__ = ("_router", "_evaluation", "_features", "_winner_id", "_classifier", "_built")

    def __init__(
        self,
        router: CompiledRouter,
        evaluation: Evaluation,
        features: Features,
        winner_id: int | None,
        classifier: ClassifierVerdict | None,
    ) -> None:
        self._router = router
        self._evaluation = evaluation
        self._features = features
        self._winner_id = winner_id
        self._classifier = classifier
        self._built: tuple[RuleVerdict, ...] | None = None

    def verdicts(self) -> tuple[RuleVerdict, ...]:
        if self._built is None:
            self._built = tuple(self._build())
        return self._built

    def _conditions(self, results: list[ConditionResult]) -> tuple[ConditionVerdict, ...]:
        features = self._features
        return tuple(
            ConditionVerdict(c.property, c.operator, c.expected, c.show(observed, features), ok)
            for c, ok, observed in results
        )

    def _llm_status(self, rule: CompiledRule) -> tuple[RuleStatus, str]:
        verdict = self._classifier
        if verdict is None:
            return "offered", "offered to the classifier, which was not called"
        if rule.id == self._winner_id:
            return "classifier_chose", "the classifier chose this rule"
        if verdict.error:
            return "classifier_rejected", f"classifier answer not used: {verdict.error}"
        if verdict.rule_id is None:
            return "classifier_rejected", "classifier said none"
        chosen = self._router.rules_by_id.get(verdict.rule_id)
        name = f"“{chosen.name}”" if chosen is not None else "another rule"
        return "classifier_rejected", f"the classifier chose {name}"

    def _build(self) -> list[RuleVerdict]:
        outcomes: tuple[Any, ...] = self._evaluation.outcomes
        verdicts: list[RuleVerdict] = []
        decided = False  # past the winning rule: everything after is "not_reached"
        # A run of semantic rules is judged together: rules after its winner keep their scores.
        in_winning_run = False
        status: RuleStatus
        forced = self._evaluation.forced_tier
        if forced is not None:
            who = "you" if forced[1] == "user" else "the workspace"
            detail = f"not evaluated: tier “{forced[0]}” chosen by {who}"
            return [
                RuleVerdict(r.id, r.name, r.kind, "not_reached", detail) for r in self._router.rules
            ]
        for index, rule in enumerate(self._router.rules):
            if in_winning_run and not rule.enabled:
                verdicts.append(RuleVerdict(rule.id, rule.name, rule.kind, "disabled", "disabled"))
                continue
            if in_winning_run and rule.is_semantic and rule.id in self._evaluation.semantic_scores:
                score = self._evaluation.semantic_scores[rule.id]
                verdicts.append(
                    RuleVerdict(
                        rule.id,
                        rule.name,
                        rule.kind,
                        "no_match",
                        score.detail,
                        semantic=score.to_dict(),
                    )
                )
                continue
            in_winning_run = False
            pending = self._evaluation.needs_embedding and not decided
            if pending and index >= len(outcomes) and rule.enabled and rule.is_semantic:
                verdicts.append(
                    RuleVerdict(
                        rule.id,
                        rule.name,
                        rule.kind,
                        "pending",
                        "not evaluated (needs the message's embedding)",
                    )
                )
                continue
            if decided or index >= len(outcomes):
                detail = "an earlier rule matched" if decided else "not evaluated"
                verdicts.append(RuleVerdict(rule.id, rule.name, rule.kind, "not_reached", detail))
                continue
            if not rule.enabled:
                verdicts.append(RuleVerdict(rule.id, rule.name, rule.kind, "disabled", "disabled"))
                continue
            if rule.is_semantic:
                score = self._evaluation.semantic_scores.get(rule.id)
                if score is None:
                    verdicts.append(
                        RuleVerdict(
                            rule.id,
                            rule.name,
                            rule.kind,
                            "pending",
                            "not evaluated (needs the message's embedding)",
                        )
                    )
                    continue
                status = (
                    "matched"
                    if score.matched
                    else ("skipped" if score.score is None else "no_match")
                )
                verdicts.append(
                    RuleVerdict(
                        rule.id,
                        rule.name,
                        rule.kind,
                        status,
                        score.detail,
                        semantic=score.to_dict(),
                    )
                )
                decided = in_winning_run = score.matched
                continue
            if rule.is_llm:
                status, detail = self._llm_status(rule)
                verdicts.append(RuleVerdict(rule.id, rule.name, rule.kind, status, detail))
                decided = rule.id == self._winner_id
                continue
            results = outcomes[index]
            conditions = self._conditions(results)
            if (
                rule.needs_facets
                and self._evaluation.facets is None
                and (rule.id != self._evaluation.matched_rule_id)
            ):
                verdicts.append(
                    RuleVerdict(
                        rule.id,
                        rule.name,
                        rule.kind,
                        "pending",
                        "needs the classifier's category and complexity",
                        conditions,
                    )
                )
                continue
            deciding = results[-1][0].summary
            # An LLM winner stands before the calculated match, so reaching it means it won.
            if rule.id == self._evaluation.matched_rule_id:
                status, detail = "matched", deciding
            elif rule.match_any:
                status, detail = "no_match", "no condition holds"
            else:
                status, detail = "no_match", f"not: {deciding}"
            verdicts.append(RuleVerdict(rule.id, rule.name, rule.kind, status, detail, conditions))
            decided = status == "matched"
        return verdicts
