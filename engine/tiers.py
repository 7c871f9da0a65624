"""Tiers: a router's named intents ("balanced", "smart", "coding", "deep"), each bound to a model.

A rule may target a tier instead of a model (`tier:<name>` as its target), so swapping the
model behind a tier is one edit for every rule, workspace and API client that names it.

Fallback. Every tier names the tier it falls back to when it has no model (`fallback`; empty:
none). The defaults: `deep` → `smart` → `balanced`, and `coding` → `smart` → `balanced`. A
tier whose whole ladder is unset answers with the router's primary model. Cycles are refused.
When the chosen model fails at call time, the other bound models of the ladder are tried
after the rule's own fallbacks, before the router's.

Order. A tier is *higher* than another when the other stands on its fallback ladder: `deep`
and `coding` are above `smart`, which is above `balanced`; `deep` and `coding` are not
comparable. Dynamic escalation may only move a turn up this order, never down or sideways.

Which tier a turn uses, highest first (`resolve` in route.py):
  1. the user's choice for this turn (`/tier coding` in chat, `router:<slug>/<tier>` in /v1);
  2. the workspace's tier;
     (either of these bypasses the rules: the person asked for that tier)
  3. a rule that targets a tier;
  4. dynamic escalation of the default tier, when the router allows it;
  5. the router's default tier (none: the primary model answers, as without tiers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .errors import RuleError

TIER_PREFIX = "tier:"
MAX_TIERS = 12
TIER_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
TIER_NAME_HELP = "lowercase letters, digits, - and _, starting with a letter, at most 32"


@dataclass(frozen=True, slots=True)
class TierSpec:
    """One tier: its name, the model it is bound to ("" = unset) and the tier it falls back to."""

    name: str
    model: str = ""
    fallback: str = ""
    description: str = ""


DEFAULT_TIERS: tuple[TierSpec, ...] = (
    TierSpec("balanced", description="everyday questions"),
    TierSpec("smart", fallback="balanced", description="harder questions that need care"),
    TierSpec("coding", fallback="smart", description="writing, reading and fixing code"),
    TierSpec("deep", fallback="smart", description="long, hard reasoning and analysis"),
)
DEFAULT_TIER = "balanced"


def tier_target(name: str) -> str:
    return f"{TIER_PREFIX}{name}"


def tier_of(target: str) -> str | None:
    """The tier a rule target names (`tier:coding` → `coding`), None for a model ref."""
    return target[len(TIER_PREFIX) :] if target.startswith(TIER_PREFIX) else None


def check_tier_name(name: object, where: str = "Tier") -> str:
    if not isinstance(name, str) or not TIER_NAME.fullmatch(name):
        raise RuleError(f"{where}: '{name}' is not a tier name ({TIER_NAME_HELP})", "tiers")
    return name


def check_tiers(
    tiers: Sequence[TierSpec], default_tier: str, *, is_ref: object = None
) -> dict[str, TierSpec]:
    """Validate a router's tiers and default tier; the tiers by name, in order.
    `is_ref` checks a bound model reference (compile.is_model_ref)."""
    if len(tiers) > MAX_TIERS:
        raise RuleError(f"A router has at most {MAX_TIERS} tiers ({len(tiers)} given)", "tiers")
    by_name: dict[str, TierSpec] = {}
    for tier in tiers:
        name = check_tier_name(tier.name)
        if name in by_name:
            raise RuleError(f"Two tiers are named '{name}'", "tiers")
        by_name[name] = tier
    for tier in tiers:
        if tier.model and callable(is_ref) and not is_ref(tier.model):
            raise RuleError(
                f"Tier '{tier.name}': '{tier.model}' is not a model reference like "
                "provider/model-id",
                "tiers",
            )
        if tier.fallback:
            if tier.fallback == tier.name:
                raise RuleError(f"Tier '{tier.name}' cannot fall back to itself", "tiers")
            if tier.fallback not in by_name:
                raise RuleError(
                    f"Tier '{tier.name}' falls back to '{tier.fallback}', which is not a tier",
                    "tiers",
                )
    for tier in tiers:
        seen = [tier.name]
        current = tier
        while current.fallback:
            if current.fallback in seen:
                loop = " → ".join([*seen, current.fallback])
                raise RuleError(f"Tier fallbacks go round in a circle: {loop}", "tiers")
            seen.append(current.fallback)
            current = by_name[current.fallback]
    if default_tier and default_tier not in by_name:
        raise RuleError(f"Default tier: '{default_tier}' is not one of the tiers", "default_tier")
    return by_name


def ladder(by_name: Mapping[str, TierSpec], name: str) -> tuple[str, ...]:
    """The tier and the tiers it falls back to, in order (`deep`, `smart`, `balanced`)."""
    out: list[str] = []
    current = by_name.get(name)
    while current is not None and current.name not in out:
        out.append(current.name)
        current = by_name.get(current.fallback) if current.fallback else None
    return tuple(out)


def tier_models(by_name: Mapping[str, TierSpec], name: str) -> tuple[tuple[str, str], ...]:
    """(tier, model) for every bound tier of the ladder, in order: the first answers, the
    others are its fallbacks."""
    return tuple(
        (step, by_name[step].model) for step in ladder(by_name, name) if by_name[step].model
    )


def is_higher(by_name: Mapping[str, TierSpec], upper: str, lower: str) -> bool:
    return upper != lower and lower in ladder(by_name, upper)


def higher_tiers(by_name: Mapping[str, TierSpec], base: str) -> tuple[str, ...]:
    """The tiers a turn at `base` may be escalated to, in the router's order."""
    return tuple(name for name in by_name if is_higher(by_name, name, base))


def describe_fallbacks(tiers: Iterable[TierSpec]) -> str:
    """'deep → smart → balanced; coding → smart → balanced' for pages and /status."""
    by_name = {t.name: t for t in tiers}
    chains = [" → ".join(ladder(by_name, n)) for n in by_name if by_name[n].fallback]
    return "; ".join(chains)
