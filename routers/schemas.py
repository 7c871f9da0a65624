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
from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from engine import for_people as engine_for_people
from engine import router_problems
from engine.facets import DEFAULT_CATEGORIES
from engine.tiers import DEFAULT_TIERS, TierSpec

# Kept equal to providers.local_embeddings.DEFAULT_EMBEDDING_MODEL (a test checks).
DEFAULT_EMBEDDING_MODEL: Final = "local/potion-base-8M"

FORMAT: Final = "routerweb.router"
FORMAT_VERSION: Final = 2
READABLE_VERSIONS: Final = (1, 2)
SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"

# strict: a file saying "enabled": "no" is a mistake to report, not a truthy string to accept.
_STRICT = ConfigDict(extra="forbid", strict=True)
# Deeper than any router file; json.loads and pydantic recurse, so depth is checked first.
MAX_JSON_DEPTH = 32
_TOO_DEEP = (
    f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep; a router file is far shallower."
)
# Names, lengths, ranges and counts are the engine's to check (`engine.router_problems`), so a
# file's mistake reads as it does in the form and the API; only types are checked here.
_Name: Any = Field()
_Description: Any = Field(default="")
_Refs: Any = Field(default_factory=list)
_Ref: Any = Field()


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
    conditions: list[ConditionDoc] = Field(default_factory=list)
    description: str = _Description
    # Exactly one: a model, one of the router's tiers (version 2), or a profile (its name)
    # whose best models answer.
    target_model: str | None = Field(default=None, max_length=300)
    target_tier: str = Field(default="", max_length=32)
    target_profile: str | None = None
    fallbacks: list[str] = _Refs
    # Semantic rules: example utterances, cosine threshold 0–1, optional margin 0–1.
    examples: list[str] = Field(default_factory=list)
    threshold: float = 0.7
    margin: float | None = None


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
    cooldown_minutes: int = 30
    time_zone: str = Field(default="UTC", max_length=64)
    embedding_model: str = Field(default=DEFAULT_EMBEDDING_MODEL, max_length=300)
    # Overrides of the failure policy (providers.failover.OVERRIDE_FIELDS), checked on import.
    failover_policy: dict[str, Any] = Field(default_factory=dict, max_length=20)
    preferred_families: list[str] = Field(default_factory=list)
    # Version 2. Absent (a version-1 file): the default tiers and categories.
    tiers: list[TierDoc] | None = None
    default_tier: str = ""
    escalation: bool = False
    categories: list[str] | None = None
    rules: list[RuleDoc] = Field(default_factory=list)


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


def for_people(problem: str, data: Any) -> str:
    """A located problem of the file `data`, as people read it (`engine.for_people`):
    'rules[2].conditions[0].value: …' → 'rule 3 “Night shift”, condition 1, value: …'."""
    rules = data.get("router", {}).get("rules") if isinstance(data, dict) else None
    names = [r.get("name") if isinstance(r, dict) else None for r in rules or []]
    return engine_for_people(problem, names if isinstance(rules, list) else [])


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
    """What the routing engine rejects (`engine.router_problems`: tiers and categories too),
    located in the file, and a rule naming two targets (a file names one)."""
    problems = [str(problem) for problem in router_problems(router.model_dump())]
    for i, rule in enumerate(router.rules):
        where = f"rules[{i}]"
        if rule.target_tier and rule.target_model is not None:
            problems.append(f"{where}: give target_model or target_tier, not both")
        elif rule.target_tier and rule.target_profile is not None:
            problems.append(f"{where}: give target_tier or target_profile, not both")
        elif rule.target_profile is not None and rule.target_model is not None:
            problems.append(
                f"rules[{i}].target_profile: Give a target_model or a target_profile, not both."
            )
    return problems


def tier_specs_of(router: RouterDoc) -> tuple[TierSpec, ...]:
    """The file's tiers; a version-1 file (none given) gets the defaults, all unset."""
    if router.tiers is None:
        return DEFAULT_TIERS
    return tuple(TierSpec(t.name, t.model, t.fallback, t.description) for t in router.tiers)


def categories_of(router: RouterDoc) -> tuple[str, ...]:
    return DEFAULT_CATEGORIES if router.categories is None else tuple(router.categories)
