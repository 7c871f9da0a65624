"""The one validation of routers and rules: every problem, with its location.

`rule_problems` and `router_problems` take plain values (the names of the export file and the
JSON API: `target_model`, `primary_model`, …) and return every `Problem` found, each with its
location (`name`, `conditions[0].value`, `rules[2].examples`) and one message. Every surface
maps this output to its own shape and keeps the words: the rule form puts a condition's
problem next to its row, the JSON API returns `{"field": location, "message": …}`, an import
says "rule 3 “Tickets”, condition 1, value: …", and `compile_router` raises the first one as a
`RuleError`. So the same mistake reads the same everywhere.

What needs the database (is the model in the enabled catalog, is the slug free) is checked by
`routers.services`, in the same shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .conditions import validate_condition
from .errors import RuleError
from .facets import DEFAULT_CATEGORIES, check_categories
from .limits import (
    MAX_CONDITIONS_PER_RULE,
    MAX_COOLDOWN_MINUTES,
    MAX_DESCRIPTION_CHARS,
    MAX_EXAMPLE_CHARS_PER_ROUTER,
    MAX_EXAMPLES_PER_ROUTER,
    MAX_FALLBACKS,
    MAX_KEYWORD_CHARS_PER_ROUTER,
    MAX_KEYWORDS_PER_ROUTER,
    MAX_NAME_CHARS,
    MAX_REGEXES_PER_ROUTER,
    MAX_RULES_PER_ROUTER,
    pattern_counts,
    unstorable_problem,
)
from .profiles import check_families, check_name
from .semantic import check_unit_interval, validate_examples
from .tiers import DEFAULT_TIERS, TierSpec, check_tiers, tier_of

# provider, "/", model id (which may itself contain "/", e.g. OpenRouter ids); no spaces.
_MODEL_REF = re.compile(r"[^/\s]+/\S+")
# Names appear on one line everywhere: pages, logs, and the `x-routerweb-rule` header of /v1.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def is_model_ref(value: object) -> bool:
    return isinstance(value, str) and _MODEL_REF.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Problem:
    location: str  # "name", "conditions[0].value", "rules[2].examples", "" for the whole
    message: str

    @property
    def field(self) -> str:
        """The first step of the location ("conditions" for "conditions[0].value")."""
        return re.split(r"[.\[]", self.location, maxsplit=1)[0]

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


def _at(prefix: str, location: str) -> str:
    if not prefix:
        return location
    return f"{prefix}{location}" if location.startswith("[") else f"{prefix}.{location}"


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", ")")) else f"{text}."


def name_problem(value: object, noun: str, *, stored: bool = False) -> str:
    """What is wrong with a router's or rule's name, or ""."""
    if not isinstance(value, str) or not value.strip():
        return f"Give the {noun} a name."
    if stored:
        return ""
    if problem := unstorable_problem(value):
        return problem
    if len(value.strip()) > MAX_NAME_CHARS:
        return f"Use at most {MAX_NAME_CHARS} characters."
    if _CONTROL.search(value):
        return "A name is one line: no line breaks, tabs or control characters."
    return ""


def ref_problem(value: object, *, required: bool = True) -> str:
    if value is None or value == "":
        return "Pick a model." if required else ""
    if not is_model_ref(value):
        return f"'{value}' is not a model reference like provider/model-id."
    return ""


def _refs(values: object, location: str, out: list[Problem], *, stored: bool = False) -> None:
    if not isinstance(values, (list, tuple)):
        out.append(Problem(location, "List model references like provider/model-id."))
        return
    if len(values) > MAX_FALLBACKS and not stored:
        out.append(Problem(location, f"List at most {MAX_FALLBACKS} fallback models."))
        return
    for i, ref in enumerate(values):
        if problem := ref_problem(ref):
            out.append(Problem(f"{location}[{i}]", problem))


def rule_problems(
    rule: Mapping[str, Any],
    *,
    at: str = "",
    stored: bool = False,
    tiers: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
) -> list[Problem]:
    """Every problem of one rule: `name`, `kind`, `match`, `conditions`, `description`,
    `target_model` (or `target_tier`, or `target_profile`; a `target_model` "tier:<name>" is
    a tier too), `fallbacks`, `examples`, `threshold`, `margin` (missing ones take their
    defaults). Disabled rules are checked too, so none can be switched on broken.

    `tiers`, `categories`: the router's tier names and categories (None: not checked); a rule
    targets one of its tiers, and its category conditions name its categories.
    `stored`: only what routing needs (compiling a stored router): a row saved before a limit
    on names, descriptions or fallbacks existed still routes."""
    out: list[Problem] = []

    def add(location: str, message: str) -> None:
        out.append(Problem(_at(at, location), message))

    if problem := name_problem(rule.get("name"), "rule", stored=stored):
        add("name", problem)
    kind = rule.get("kind", "calculated")
    if kind not in ("calculated", "llm", "semantic"):
        add("kind", "Choose calculated, LLM-classified or semantic.")
    if rule.get("match", "all") not in ("all", "any"):
        add("match", "Choose all or any.")
    description = rule.get("description") or ""
    if not isinstance(description, str):
        add("description", "Describe the rule in text.")
        description = ""
    if kind == "llm" and not description.strip():
        add("description", "Describe when this rule applies; the classifier model reads it.")
    elif len(description.strip()) > MAX_DESCRIPTION_CHARS and not stored:
        add("description", f"Use at most {MAX_DESCRIPTION_CHARS:,} characters.")
    elif problem := unstorable_problem(description):
        add("description", problem)
    conditions = rule.get("conditions") or []
    if kind == "calculated":
        if not isinstance(conditions, (list, tuple)):
            add("conditions", "List the conditions.")
        elif not conditions:
            add("conditions", "A calculated rule needs at least one condition.")
        elif len(conditions) > MAX_CONDITIONS_PER_RULE:
            add(
                "conditions",
                f"A rule has at most {MAX_CONDITIONS_PER_RULE} conditions "
                f"(this one has {len(conditions):,}).",
            )
        else:
            for j, condition in enumerate(conditions):
                try:
                    validate_condition(condition)
                except RuleError as exc:
                    where = f"conditions[{j}]" + (f".{exc.field}" if exc.field else "")
                    add(where, exc.message)
                    continue
                if categories is not None and condition.get("property") == "category":
                    value = condition.get("value")
                    for item in [value] if isinstance(value, str) else list(value or ()):
                        if str(item).strip().lower() not in categories:
                            add(
                                f"conditions[{j}].value",
                                f"'{item}' is not one of the router's categories "
                                f"({', '.join(categories)}).",
                            )
    if kind == "semantic":
        examples = rule.get("examples") or ()
        try:
            validate_examples(list(examples) if isinstance(examples, (list, tuple)) else examples)
        except ValueError as exc:
            add("examples", _sentence(str(exc)))
    # Checked for every kind: a rule switched to semantic later keeps them.
    try:
        check_unit_interval(rule.get("threshold", 0.7), "The threshold")
    except ValueError as exc:
        add("threshold", _sentence(str(exc)))
    try:
        check_unit_interval(rule.get("margin"), "The margin", optional=True)
    except ValueError as exc:
        add("margin", _sentence(str(exc)))
    # A rule targets a model, one of the router's tiers, or a profile of the catalog.
    model = rule.get("target_model")
    tier = rule.get("target_tier") or (tier_of(model) if isinstance(model, str) else None)
    profile = rule.get("target_profile")
    if profile and tier and not stored:
        add("target_model", "Send the rule to a model, a tier or a profile: one of them.")
    elif profile:
        try:
            check_name(profile, "Profile", "target_profile")
        except RuleError as exc:
            add("target_profile", _sentence(exc.message))
    elif tier:  # an explicit target_tier wins over a model left in a form
        if tiers is not None and tier not in tiers:
            add(
                "target_tier" if rule.get("target_tier") else "target_model",
                f"'{tier}' is not one of the router's tiers ({', '.join(tiers) or 'none'}).",
            )
    elif problem := ref_problem(model):
        add("target_model", problem)
    _refs(rule.get("fallbacks") or [], _at(at, "fallbacks"), out, stored=stored)
    return out


def example_size_problems(rule_examples: Sequence[object]) -> list[Problem]:
    """A router's limits on semantic examples over all its rules (one list per rule; any
    kind counts, as a rule switched to semantic keeps its examples)."""
    count = chars = 0
    for examples in rule_examples:
        if isinstance(examples, (list, tuple)):
            texts = [e for e in examples if isinstance(e, str)]
            count += len(texts)
            chars += sum(len(e) for e in texts)
    out: list[Problem] = []
    if count > MAX_EXAMPLES_PER_ROUTER:
        out.append(
            Problem(
                "rules",
                f"A router's semantic rules hold at most {MAX_EXAMPLES_PER_ROUTER:,} examples "
                f"in all (this one would have {count:,}).",
            )
        )
    if chars > MAX_EXAMPLE_CHARS_PER_ROUTER:
        out.append(
            Problem(
                "rules",
                f"A router's examples hold at most {MAX_EXAMPLE_CHARS_PER_ROUTER:,} characters "
                f"in all (this one would have {chars:,}).",
            )
        )
    return out


def size_problems(rule_conditions: Sequence[Sequence[Mapping[str, Any]]]) -> list[Problem]:
    """A router's limits over all its rules (one sequence of conditions per rule)."""
    out: list[Problem] = []
    if len(rule_conditions) > MAX_RULES_PER_ROUTER:
        out.append(
            Problem(
                "rules",
                f"A router holds at most {MAX_RULES_PER_ROUTER:,} rules "
                f"(this one would have {len(rule_conditions):,}).",
            )
        )
    keywords = chars = regexes = 0
    for conditions in rule_conditions:
        more_keywords, more_chars, more_regexes = pattern_counts(conditions)
        keywords += more_keywords
        chars += more_chars
        regexes += more_regexes
    if keywords > MAX_KEYWORDS_PER_ROUTER:
        out.append(
            Problem(
                "rules",
                f"A router's rules hold at most {MAX_KEYWORDS_PER_ROUTER:,} keywords in all "
                f"(this one would have {keywords:,}).",
            )
        )
    if chars > MAX_KEYWORD_CHARS_PER_ROUTER:
        out.append(
            Problem(
                "rules",
                f"A router's keywords hold at most {MAX_KEYWORD_CHARS_PER_ROUTER:,} characters "
                f"in all (this one would have {chars:,}).",
            )
        )
    if regexes > MAX_REGEXES_PER_ROUTER:
        out.append(
            Problem(
                "rules",
                f"A router's rules hold at most {MAX_REGEXES_PER_ROUTER:,} regexes in all "
                f"(this one would have {regexes:,}).",
            )
        )
    return out


def cooldown_problem(value: object) -> str:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= MAX_COOLDOWN_MINUTES
    ):
        return f"Enter a whole number of minutes from 0 to {MAX_COOLDOWN_MINUTES:,} (a year)."
    return ""


def time_zone_problem(value: object) -> str:
    try:
        ZoneInfo(value)  # type: ignore[arg-type]
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return f"'{value}' is not an IANA time zone like Europe/Paris or UTC."
    return ""


def tier_specs(tiers: object) -> tuple[TierSpec, ...]:
    """Tiers given as `TierSpec`s or mappings (name, model, fallback, description); None (a
    version-1 file) is the default tiers."""
    if tiers is None:
        return DEFAULT_TIERS
    specs = []
    for tier in tiers if isinstance(tiers, (list, tuple)) else ():
        if isinstance(tier, TierSpec):
            specs.append(tier)
        elif isinstance(tier, Mapping):
            specs.append(
                TierSpec(
                    tier.get("name") or "",
                    tier.get("model") or "",
                    tier.get("fallback") or "",
                    tier.get("description") or "",
                )
            )
    return tuple(specs)


def tier_problems(tiers: object, default_tier: object = "") -> tuple[list[Problem], list[str]]:
    """The problem of a router's tiers and default tier (`tiers.check_tiers`), and the tier
    names rules may target."""
    specs = tier_specs(tiers)
    try:
        by_name = check_tiers(specs, str(default_tier or ""), is_ref=is_model_ref)
    except RuleError as exc:
        field = "default_tier" if exc.field == "default_tier" else "tiers"
        return [Problem(field, _sentence(exc.message))], [t.name for t in specs]
    return [], list(by_name)


def category_problems(categories: object) -> tuple[list[Problem], list[str] | None]:
    """The problem of a router's categories (`facets.check_categories`), and the categories
    (None if they are broken: rules are then not checked against them)."""
    if categories is None:
        return [], list(DEFAULT_CATEGORIES)
    try:
        return [], list(check_categories(list(categories)))  # type: ignore[call-overload]
    except (RuleError, TypeError) as exc:
        message = exc.message if isinstance(exc, RuleError) else "List the categories."
        return [Problem("categories", _sentence(message))], None


def router_problems(
    router: Mapping[str, Any], *, with_rules: bool = True, stored: bool = False
) -> list[Problem]:
    """Every problem of a router: `name`, `description`, `primary_model`,
    `classifier_model`, `fallbacks`, `cooldown_minutes`, `time_zone`, `embedding_model`,
    `preferred_families`, `tiers` and `default_tier`, `categories` (those three only when
    given; `tiers` or `categories` None: the defaults)
    and, with `with_rules`, each of `rules` (located `rules[i]…`) and the router's limits.
    `stored`: see `rule_problems`."""
    out: list[Problem] = []
    if "name" in router and (problem := name_problem(router["name"], "router")):
        out.append(Problem("name", problem))
    if len((router.get("description") or "").strip()) > MAX_DESCRIPTION_CHARS:
        out.append(Problem("description", f"Use at most {MAX_DESCRIPTION_CHARS:,} characters."))
    elif problem := unstorable_problem(router.get("description") or ""):
        out.append(Problem("description", problem))
    if problem := ref_problem(router.get("primary_model")):
        out.append(Problem("primary_model", problem))
    if problem := ref_problem(router.get("classifier_model"), required=False):
        out.append(Problem("classifier_model", problem))
    _refs(router.get("fallbacks") or [], "fallbacks", out, stored=stored)
    if problem := cooldown_problem(router.get("cooldown_minutes", 30)):
        out.append(Problem("cooldown_minutes", problem))
    if problem := time_zone_problem(router.get("time_zone", "UTC")):
        out.append(Problem("time_zone", problem))
    if problem := ref_problem(router.get("embedding_model"), required=False):
        out.append(Problem("embedding_model", problem))
    try:
        families = router.get("preferred_families") or ()
        check_families(families if isinstance(families, str) else list(families))
    except RuleError as exc:
        out.append(Problem("preferred_families", _sentence(exc.message)))
    tier_names: list[str] | None = None
    if "tiers" in router:
        problems, tier_names = tier_problems(router["tiers"], router.get("default_tier", ""))
        out += problems
    categories: list[str] | None = None
    if "categories" in router:
        problems, categories = category_problems(router["categories"])
        out += problems
    if with_rules:
        rules = list(router.get("rules") or [])
        out += size_problems([list(r.get("conditions") or []) for r in rules])
        out += example_size_problems([r.get("examples") or [] for r in rules])
        for i, rule in enumerate(rules):
            out += rule_problems(
                rule, at=f"rules[{i}]", stored=stored, tiers=tier_names, categories=categories
            )
    return out


_PATH = re.compile(
    r"^(?P<head>(?:rules|fallbacks|conditions)\[\d+\](?:\.\w+|\[\d+\])*): (?P<rest>.*)$", re.S
)
_STEP = re.compile(r"\.?(\w+)\[(\d+)\]|\.?(\w+)")
_ITEM = {"rules": "rule", "conditions": "condition", "fallbacks": "fallback", "examples": "example"}


def for_people(problem: str | Problem, rule_names: Sequence[object] = ()) -> str:
    """'rules[2].conditions[0].value: …' → 'rule 3 “Night shift”, condition 1, value: …'.

    Counted from 1 and with the rule's name (from `rule_names`, in rule order), as the router
    page shows them; what the path does not cover (top-level fields) is left as it is."""
    match = _PATH.match(str(problem))
    if not match:
        return str(problem)
    parts: list[str] = []
    for list_name, index, field in _STEP.findall(match["head"]):
        if not list_name:
            parts.append(field)
            continue
        n = int(index)
        part = f"{_ITEM.get(list_name, list_name)} {n + 1}"
        if list_name == "rules" and not parts and n < len(rule_names):
            name = rule_names[n]
            if isinstance(name, str) and name.strip():
                part += f" “{name.strip()}”"
        parts.append(part)
    return f"{', '.join(parts)}: {match['rest']}"
