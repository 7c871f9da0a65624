"""The router export/import file format (version 2), checked by pydantic.

    {"format": "routerweb.router", "version": 2,
     "router": {name, slug, description, visibility, primary_model, classifier_model,
                fallbacks, sticky, cooldown_minutes, time_zone, embedding_model,
                preferred_families,
                tiers: [{name, model, fallback, description}], default_tier, escalation,
                categories: [...],
                rules: [{name, enabled, kind, match, conditions, description,
                         target_model | target_tier | target_profile, fallbacks, examples,
                         threshold, margin}]}}

Version 2 added tiers, the default tier, escalation, categories and `target_tier`. Version 1
files still import: a router from one gets the default tiers (all unset), no default tier,
no escalation and the default categories, exactly how it routed before. Fields added to
version 1 after it was first written (`preferred_families`, `target_profile`) are optional,
so every older file still imports unchanged.

Models are referenced as "provider/model-id" strings so a file moves between instances
whose catalogs share those refs. Structure is checked here; what needs the engine
(conditions, time zone) is checked by `engine_problems`, and what needs the database
(model refs, slug) by `routers.services.router_import`. Every problem is reported with its
location in the file, e.g. `rules[2].conditions[0].value: Regex: …`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from engine import RuleError, check_router_size, is_model_ref, validate_condition
from engine.facets import DEFAULT_CATEGORIES, check_categories
from engine.limits import (
    MAX_CONDITIONS_PER_RULE,
    MAX_COOLDOWN_MINUTES,
    MAX_DESCRIPTION_CHARS,
    MAX_FALLBACKS,
    MAX_NAME_CHARS,
    MAX_RULES_PER_ROUTER,
)
from engine.profiles import MAX_PREFERRED_FAMILIES, NAME_PATTERN, check_families
from engine.semantic import validate_examples
from engine.tiers import DEFAULT_TIERS, TierSpec, check_tiers

# Kept equal to providers.local_embeddings.DEFAULT_EMBEDDING_MODEL (a test checks).
DEFAULT_EMBEDDING_MODEL: Final = "local/potion-base-8M"

FORMAT: Final = "routerweb.router"
FORMAT_VERSION: Final = 2
READABLE_VERSIONS: Final = (1, 2)
SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"
PROFILE_PATTERN = rf"^{NAME_PATTERN}$"

# strict: a file saying "enabled": "no" is a mistake to report, not a truthy string to accept.
_STRICT = ConfigDict(extra="forbid", strict=True)
# One line, no control characters: names are shown on one line and sent in /v1 headers.
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*$"
# Deeper than any router file; json.loads and pydantic recurse, so depth is checked first.
MAX_JSON_DEPTH = 32
_TOO_DEEP = (
    f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep; a router file is far shallower."
)
_Name = Field(min_length=1, max_length=MAX_NAME_CHARS, pattern=NAME_PATTERN)
_Description = Field(default="", max_length=MAX_DESCRIPTION_CHARS)
_Refs: Any = Field(default_factory=list, max_length=MAX_FALLBACKS)
_Ref = Field(max_length=300)


class ConditionDoc(BaseModel):
    model_config = _STRICT

    property: str
    operator: str
    value: Any = None


class RuleDoc(BaseModel):
    model_config = _STRICT

    name: str = _Name
    enabled: bool = True
    kind: Literal["calculated", "llm", "semantic"]
    match: Literal["all", "any"] = "all"
    conditions: list[ConditionDoc] = Field(default_factory=list, max_length=MAX_CONDITIONS_PER_RULE)
    description: str = _Description
    # Exactly one: a model, one of the router's tiers (version 2), or a profile (its name)
    # whose best models answer.
    target_model: str | None = Field(default=None, max_length=300)
    target_tier: str = Field(default="", max_length=32)
    target_profile: str | None = Field(default=None, max_length=40, pattern=PROFILE_PATTERN)
    fallbacks: list[str] = _Refs
    # Semantic rules: example utterances, cosine threshold 0–1, optional margin 0–1.
    examples: list[str] = Field(default_factory=list)
    threshold: float = Field(default=0.7, ge=0, le=1)
    margin: float | None = Field(default=None, ge=0, le=1)


class TierDoc(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=32)
    model: str = Field(default="", max_length=300)
    fallback: str = Field(default="", max_length=32)
    description: str = Field(default="", max_length=200)


class RouterDoc(BaseModel):
    model_config = _STRICT

    name: str = _Name
    # Optional, as in the form: without one the router's name gives it (see router_import).
    slug: str | None = Field(default=None, min_length=1, max_length=60, pattern=SLUG_PATTERN)
    description: str = _Description
    visibility: Literal["private", "shared"] = "private"
    primary_model: str = _Ref
    classifier_model: str | None = Field(default=None, max_length=300)
    fallbacks: list[str] = _Refs
    sticky: bool = False
    cooldown_minutes: int = Field(default=30, ge=0, le=MAX_COOLDOWN_MINUTES)
    time_zone: str = Field(default="UTC", max_length=64)
    embedding_model: str = Field(default=DEFAULT_EMBEDDING_MODEL, max_length=300)
    # Overrides of the failure policy (providers.failover.OVERRIDE_FIELDS), checked on import.
    failover_policy: dict[str, Any] = Field(default_factory=dict, max_length=20)
    preferred_families: list[str] = Field(default_factory=list, max_length=MAX_PREFERRED_FAMILIES)
    # Version 2. Absent (a version-1 file): the default tiers and categories.
    tiers: list[TierDoc] | None = Field(default=None, max_length=12)
    default_tier: str = Field(default="", max_length=32)
    escalation: bool = False
    categories: list[str] | None = Field(default=None, max_length=20)
    rules: list[RuleDoc] = Field(default_factory=list, max_length=MAX_RULES_PER_ROUTER)


class RouterFile(BaseModel):
    model_config = _STRICT

    format: Literal["routerweb.router"]
    version: Literal[1, 2]
    router: RouterDoc


class ImportProblems(ValueError):
    """A file that cannot be imported, with one located message per problem."""

    def __init__(self, problems: Sequence[str]):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def location(loc: Iterable[str | int]) -> str:
    """('router', 'rules', 2, 'value') → 'rules[2].value' (the "router." prefix is noise)."""
    parts = list(loc)
    if len(parts) > 1 and parts[0] == "router":
        parts = parts[1:]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "file"


_PATH = re.compile(r"^(?P<head>(?:rules|fallbacks)\[\d+\](?:\.\w+|\[\d+\])*): (?P<rest>.*)$", re.S)
_STEP = re.compile(r"\.?(\w+)\[(\d+)\]|\.?(\w+)")
_ITEM = {"rules": "rule", "conditions": "condition", "fallbacks": "fallback"}


def for_people(problem: str, data: Any) -> str:
    """'rules[2].conditions[0].value: …' → 'rule 3 “Night shift”, condition 1, value: …'.

    Counted from 1 and with the rule's name, as the router page shows them; what the path
    does not cover (top-level fields) is left as it is."""
    match = _PATH.match(problem)
    if not match:
        return problem
    rules = data.get("router", {}).get("rules") if isinstance(data, dict) else None
    parts: list[str] = []
    for list_name, index, field in _STEP.findall(match["head"]):
        if not list_name:
            parts.append(field)
            continue
        n = int(index)
        part = f"{_ITEM.get(list_name, list_name)} {n + 1}"
        if list_name == "rules" and not parts and isinstance(rules, list) and n < len(rules):
            name = rules[n].get("name") if isinstance(rules[n], dict) else None
            if isinstance(name, str) and name.strip():
                part += f" “{name.strip()}”"
        parts.append(part)
    return f"{', '.join(parts)}: {match['rest']}"


def parse_text(text: str) -> dict[str, Any]:
    """Parse pasted or uploaded JSON; raise ImportProblems saying where it breaks."""
    if not text.strip():
        raise ImportProblems(["The file is empty: choose a .router.json file or paste its JSON."])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportProblems(
            [f"Not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"]
        ) from None
    except RecursionError:  # deeper than json.loads goes
        raise ImportProblems([_TOO_DEEP]) from None
    problem = text_problem(data)
    if problem:
        raise ImportProblems([problem])
    if not isinstance(data, dict):
        raise ImportProblems(
            [f'Expected a JSON object with "format": "{FORMAT}", found {type(data).__name__}']
        )
    return data


def text_problem(data: Any) -> str | None:
    """What a parsed file may not hold, found without recursion (pydantic and the engine
    recurse): nesting deeper than any router file, a NUL character (PostgreSQL text cannot
    store it) or a lone surrogate (not encodable as UTF-8)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)) and depth >= MAX_JSON_DEPTH:
            return _TOO_DEEP
        if isinstance(value, str):
            if "\x00" in value:
                return "The file contains a NUL character (\\u0000), which text may not hold."
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "The file contains a lone surrogate (like \\ud800), which is not text."
        elif isinstance(value, dict):
            stack.extend((key, depth + 1) for key in value)
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return None


def parse_document(data: Any) -> RouterFile:
    """Check the structure; raise ImportProblems listing every problem with its location.
    The engine's checks (`engine_problems`) come next, once the structure is known."""
    if isinstance(data, dict) and data.get("format") not in (None, FORMAT):
        # Say what the file is rather than listing every field it lacks.
        raise ImportProblems(
            [f'format: expected "{FORMAT}", found {json.dumps(data.get("format"))}']
        )
    if (
        isinstance(data, dict)
        and data.get("format") == FORMAT
        and data.get("version") not in (None, *READABLE_VERSIONS)
    ):
        raise ImportProblems(
            [
                f"version: this instance reads version 1 and {FORMAT_VERSION} files, found {json.dumps(data.get('version'))}"
            ]
        )
    problem = text_problem(data)
    if problem:
        raise ImportProblems([problem])
    try:
        return RouterFile.model_validate(data)
    except PydanticValidationError as exc:
        raise ImportProblems([f"{location(e['loc'])}: {e['msg']}" for e in exc.errors()]) from None


def engine_problems(router: RouterDoc) -> list[str]:
    """What the routing engine would reject, located in the file."""
    problems: list[str] = []

    def check_ref(ref: str | None, where: str) -> None:
        if ref is not None and not is_model_ref(ref):
            problems.append(f"{where}: '{ref}' is not a model reference like provider/model-id")

    check_ref(router.primary_model, "primary_model")
    check_ref(router.classifier_model, "classifier_model")
    check_ref(router.embedding_model, "embedding_model")
    for i, ref in enumerate(router.fallbacks):
        check_ref(ref, f"fallbacks[{i}]")
    try:
        check_families(router.preferred_families)
    except RuleError as exc:
        problems.append(f"preferred_families: {exc.message}")
    try:
        ZoneInfo(router.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            f"time_zone: '{router.time_zone}' is not an IANA time zone like Europe/Paris"
        )
    try:
        check_router_size([[c.model_dump() for c in rule.conditions] for rule in router.rules])
    except RuleError as exc:
        problems.append(f"rules: {exc.message}")
    tier_names: set[str] = set()
    try:
        check_tiers(tier_specs_of(router), router.default_tier, is_ref=is_model_ref)
    except RuleError as exc:
        problems.append(
            f"{'default_tier' if exc.field == 'default_tier' else 'tiers'}: {exc.message}"
        )
    else:
        tier_names = {t.name for t in tier_specs_of(router)}
    categories: tuple[str, ...] = ()
    try:
        categories = check_categories(categories_of(router))
    except RuleError as exc:
        problems.append(f"categories: {exc.message}")
    for i, rule in enumerate(router.rules):
        where = f"rules[{i}]"
        if not rule.name.strip():
            problems.append(f"{where}.name: give the rule a name")
        if rule.target_tier and rule.target_model is not None:
            problems.append(f"{where}: give target_model or target_tier, not both")
        elif rule.target_tier and rule.target_profile is not None:
            problems.append(f"{where}: give target_tier or target_profile, not both")
        elif rule.target_tier:
            if tier_names and rule.target_tier not in tier_names:
                problems.append(
                    f"{where}.target_tier: '{rule.target_tier}' is not one of the router's tiers"
                )
        elif rule.target_profile is None and rule.target_model is None:
            problems.append(
                f"{where}.target_model: give a target_model or a target_profile (or a target_tier)"
            )
        elif rule.target_profile is not None and rule.target_model is not None:
            problems.append(
                f"{where}.target_profile: give a target_model or a target_profile, not both"
            )
        else:
            check_ref(rule.target_model, f"{where}.target_model")
        for j, ref in enumerate(rule.fallbacks):
            check_ref(ref, f"{where}.fallbacks[{j}]")
        if rule.kind == "calculated" and not rule.conditions:
            problems.append(f"{where}.conditions: a calculated rule needs at least one condition")
        if rule.kind == "semantic":
            try:
                validate_examples(rule.examples)
            except ValueError as exc:
                problems.append(f"{where}.examples: {exc}")
        if rule.kind == "llm" and not rule.description.strip():
            problems.append(
                f"{where}.description: describe when this rule applies; the classifier reads it"
            )
        for j, condition in enumerate(rule.conditions):
            try:
                validate_condition(condition.model_dump())
            except RuleError as exc:
                field = f".{exc.field}" if exc.field else ""
                problems.append(f"{where}.conditions[{j}]{field}: {exc.message}")
                continue
            if condition.property == "category" and categories:
                value = condition.value
                for item in [value] if isinstance(value, str) else list(value or ()):
                    if str(item).strip().lower() not in categories:
                        problems.append(
                            f"{where}.conditions[{j}].value: '{item}' is not one of the "
                            f"router's categories ({', '.join(categories)})"
                        )
    return problems


def tier_specs_of(router: RouterDoc) -> tuple[TierSpec, ...]:
    """The file's tiers; a version-1 file (none given) gets the defaults, all unset."""
    if router.tiers is None:
        return DEFAULT_TIERS
    return tuple(TierSpec(t.name, t.model, t.fallback, t.description) for t in router.tiers)


def categories_of(router: RouterDoc) -> tuple[str, ...]:
    return DEFAULT_CATEGORIES if router.categories is None else tuple(router.categories)
