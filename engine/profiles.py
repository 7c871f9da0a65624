"""Profiles: a rule may target requirements on the catalog instead of a model.

A *profile* (`fast`, `general`, `code`, `creative`, or one an admin defines) says what a
model must offer: image input, tool calls, a minimum context window, a maximum price, a size
class. `resolve_profile` filters the catalog's chat models by those requirements, then orders
the survivors by the router's preferred model families (the first family listed first;
families not listed after every listed one) and then by price (input + output USD per 1M
tokens, cheapest first), the model ref breaking ties so the order never depends on the
catalog's. The ordered survivors are the rule's chain: the first answers, the next is the
fallback when one is unavailable.

Resolution depends only on the catalog and the router, not on the message, so a compiled
router resolves each profile its rules use once (compile.py); the per-message capability
filter (images, conversation length) then applies to the chain as to any other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .errors import RuleError
from .types import ModelInfo

SIZE_CLASSES: tuple[str, ...] = ("small", "medium", "large")
# A profile's or a family's name: lower-case letters, digits, "-", "_", "." (e.g. "gpt-4.1").
NAME_PATTERN = r"[a-z0-9][a-z0-9._-]{0,39}"
_NAME = re.compile(NAME_PATTERN)
MAX_PREFERRED_FAMILIES = 20


@dataclass(frozen=True, slots=True)
class ProfileSpec:
    """What a model must offer to serve a profile. `size_classes` empty: any size;
    `max_price` None: any price (USD per 1M input + 1M output tokens)."""

    name: str
    description: str = ""
    needs_images: bool = False
    needs_tools: bool = False
    min_context: int = 0
    max_price: float | None = None
    size_classes: tuple[str, ...] = ()

    def requirements(self) -> str:
        """The requirements as a person reads them: "small; ≥ 32,000-token context"."""
        parts = []
        if self.size_classes:
            parts.append(" or ".join(self.size_classes))
        if self.needs_images:
            parts.append("images")
        if self.needs_tools:
            parts.append("tools")
        if self.min_context:
            parts.append(f"≥ {self.min_context:,}-token context")
        if self.max_price is not None:
            parts.append(f"≤ ${self.max_price:,.2f} per 1M in + out")
        return "; ".join(parts) or "any chat model"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "needs_images": self.needs_images,
            "needs_tools": self.needs_tools,
            "min_context": self.min_context,
            "max_price": self.max_price,
            "size_classes": list(self.size_classes),
        }


# The built-in profiles. An admin may define more, or redefine one of these by its name.
BUILTIN_PROFILES: Mapping[str, ProfileSpec] = MappingProxyType(
    {
        p.name: p
        for p in (
            ProfileSpec(
                "fast",
                "Quick, cheap answers: greetings, short questions, small edits.",
                size_classes=("small",),
            ),
            ProfileSpec(
                "general",
                "Everyday work on a mid-sized model with room for a long conversation.",
                min_context=32_000,
                size_classes=("medium",),
            ),
            ProfileSpec(
                "code",
                "Programming: a mid-sized or large model with a context that holds source files.",
                min_context=64_000,
                size_classes=("medium", "large"),
            ),
            ProfileSpec(
                "creative",
                "Writing, stories and open-ended ideas: the largest models.",
                min_context=32_000,
                size_classes=("large",),
            ),
        )
    }
)


def check_name(value: object, what: str, field: str) -> str:
    """A profile or family name, normalised to lower case; RuleError if it is not one."""
    name = value.strip().lower() if isinstance(value, str) else ""
    if not _NAME.fullmatch(name):
        raise RuleError(
            f"{what}: '{value}' is not a name of lower-case letters, digits, '.', '-' or '_' "
            "(at most 40)",
            field,
        )
    return name


def check_profile(spec: ProfileSpec) -> ProfileSpec:
    """Validate a profile's requirements (RuleError naming the field); return it normalised."""
    name = check_name(spec.name, "Profile", "name")
    if isinstance(spec.min_context, bool) or not isinstance(spec.min_context, int):
        raise RuleError("Minimum context: enter a whole number of tokens", "min_context")
    if not 0 <= spec.min_context <= 100_000_000:
        raise RuleError("Minimum context: from 0 to 100,000,000 tokens", "min_context")
    if spec.max_price is not None and (
        isinstance(spec.max_price, bool)
        or not isinstance(spec.max_price, (int, float))
        or not 0 <= spec.max_price <= 1_000_000
    ):
        raise RuleError("Maximum price: a number of USD from 0 to 1,000,000", "max_price")
    sizes = tuple(dict.fromkeys(s.strip().lower() for s in spec.size_classes))
    for size in sizes:
        if size not in SIZE_CLASSES:
            raise RuleError(
                f"Size class: '{size}' is not one of {', '.join(SIZE_CLASSES)}", "size_classes"
            )
    return ProfileSpec(
        name=name,
        description=spec.description,
        needs_images=bool(spec.needs_images),
        needs_tools=bool(spec.needs_tools),
        min_context=spec.min_context,
        max_price=None if spec.max_price is None else float(spec.max_price),
        size_classes=tuple(s for s in SIZE_CLASSES if s in sizes),
    )


def check_families(values: Sequence[object]) -> tuple[str, ...]:
    """A router's preferred families: names, lower case, each once, at most 20."""
    if isinstance(values, str):
        raise RuleError("Preferred families: a list of family names", "preferred_families")
    families = tuple(
        dict.fromkeys(check_name(v, "Preferred family", "preferred_families") for v in values)
    )
    if len(families) > MAX_PREFERRED_FAMILIES:
        raise RuleError(
            f"Preferred families: at most {MAX_PREFERRED_FAMILIES}", "preferred_families"
        )
    return families


def model_price(info: ModelInfo) -> float:
    return info.input_price + info.output_price


def _money(value: float) -> str:
    return f"${value:,.2f}"


@dataclass(frozen=True, slots=True)
class ProfileCandidate:
    """A model that serves the profile, and how it was ranked."""

    ref: str
    family: str
    family_rank: int | None  # 0 = the router's first preferred family; None = not preferred
    price: float

    def score(self) -> str:
        """How it was scored: "family claude (preferred #1), $18.00 per 1M in + out"."""
        if self.family_rank is not None:
            family = f"family {self.family} (preferred #{self.family_rank + 1})"
        elif self.family:
            family = f"family {self.family} (not preferred)"
        else:
            family = "no family (not preferred)"
        return f"{family}, {_money(self.price)} per 1M in + out"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.ref,
            "family": self.family,
            "family_rank": self.family_rank,
            "price": round(self.price, 4),
            "score": self.score(),
        }


@dataclass(frozen=True, slots=True)
class ProfileResolution:
    """A profile resolved against a catalog: the ordered survivors and why others failed."""

    profile: ProfileSpec
    preferred_families: tuple[str, ...]
    candidates: tuple[ProfileCandidate, ...]
    rejected: tuple[tuple[str, str], ...]
    # Set when the profile is not defined (any more): no model qualifies, and this says why.
    error: str = ""

    @property
    def chain(self) -> tuple[str, ...]:
        return tuple(c.ref for c in self.candidates)

    def candidate(self, ref: str) -> ProfileCandidate | None:
        for candidate in self.candidates:
            if candidate.ref == ref:
                return candidate
        return None

    def summary(self) -> str:
        """One line: which models qualified and how they were ordered."""
        if self.error:
            return f'profile "{self.profile.name}": {self.error}'
        total = len(self.candidates) + len(self.rejected)
        order = (
            f"families {', '.join(self.preferred_families)}, then price"
            if self.preferred_families
            else "price"
        )
        return (
            f'profile "{self.profile.name}" ({self.profile.requirements()}): '
            f"{len(self.candidates)} of {total} models qualify, ranked by {order}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile.to_dict(),
            "requirements": self.profile.requirements(),
            "preferred_families": list(self.preferred_families),
            "candidates": [c.to_dict() for c in self.candidates],
            "rejected": [{"model": ref, "reason": why} for ref, why in self.rejected],
            "summary": self.summary(),
            "error": self.error,
        }


def _why_not(profile: ProfileSpec, info: ModelInfo) -> str | None:
    if profile.size_classes and info.size_class not in profile.size_classes:
        size = info.size_class or "no size class"
        return f"{size}, not {' or '.join(profile.size_classes)}"
    if profile.needs_images and not info.supports_images:
        return "does not accept images"
    if profile.needs_tools and not info.supports_tools:
        return "does not call tools"
    if info.context_window < profile.min_context:
        return f"{info.context_window:,}-token context < {profile.min_context:,}"
    if profile.max_price is not None and model_price(info) > profile.max_price:
        return f"{_money(model_price(info))} per 1M in + out > {_money(profile.max_price)}"
    return None


def resolve_profile(
    profile: ProfileSpec,
    models: Mapping[str, ModelInfo],
    preferred_families: Sequence[str] = (),
) -> ProfileResolution:
    """The catalog's models that meet the profile, best first (see the module docstring)."""
    rank = {family: i for i, family in enumerate(preferred_families)}
    candidates: list[ProfileCandidate] = []
    rejected: list[tuple[str, str]] = []
    for ref, info in models.items():
        why = _why_not(profile, info)
        if why is not None:
            rejected.append((ref, why))
            continue
        family = info.family.lower()
        candidates.append(ProfileCandidate(ref, family, rank.get(family), model_price(info)))
    unranked = len(rank)
    candidates.sort(
        key=lambda c: (unranked if c.family_rank is None else c.family_rank, c.price, c.ref)
    )
    rejected.sort()
    return ProfileResolution(profile, tuple(preferred_families), tuple(candidates), tuple(rejected))


def unknown_profile(name: str, models: Mapping[str, ModelInfo]) -> ProfileResolution:
    """The resolution of a profile nobody defines: no candidates, and the reason."""
    return ProfileResolution(
        ProfileSpec(name),
        (),
        (),
        tuple((ref, "the profile is not defined") for ref in sorted(models)),
        error="not defined on this instance (an admin may have deleted it)",
    )
