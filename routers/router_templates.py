"""Router templates: the routing designs people ask for, one click away.

A template names the design it reproduces, its model *roles* ("a small, cheap model for
greetings"), its rules (targeting a role or a profile) and example messages with the role
each should reach. `template_plan` binds every role to a model of this instance's enabled
catalog — by requirements (size class, images, context) and then price, through the engine's
profile resolution — and says which model it chose and why, warning when a role has no
suitable model and another stands in. `router_create_from_template` turns the plan into an
ordinary router file and imports it (`services.router_import`): the result is a router like
any other, edited in the builder afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from accounts.models import User
from engine import ModelInfo, ProfileSpec, resolve_profile
from engine.tiers import DEFAULT_TIERS
from providers.local_embeddings import DEFAULT_EMBEDDING_MODEL
from providers.selectors import catalog_list_embedding
from routers.compiling import catalog_snapshot, profiles_defined
from routers.models import Router
from routers.schemas import FORMAT, FORMAT_VERSION
from routers.services import router_import

# Families named in this order when a template sets a router's preferred families; families of
# the catalog not listed here follow, alphabetically.
KNOWN_FAMILIES = ("claude", "gpt", "gemini", "llama", "mistral", "qwen", "deepseek")


@dataclass(frozen=True)
class Role:
    """A model a template needs: its requirements as a profile (sizes in preference order)."""

    name: str
    purpose: str
    sizes: tuple[str, ...]
    needs_images: bool = False
    min_context: int = 0


@dataclass(frozen=True)
class Example:
    """A message and where the design sends it: a role's model or a profile's best model."""

    text: str
    why: str
    role: str = ""
    profile: str = ""
    workspace_type: str = ""
    workspace_tags: tuple[str, ...] = ()
    # What the page shows when the text itself is too long to show (a pasted document).
    label: str = ""
    # Where the design sends it when that is a tier: the tier's bound model.
    tier: str = ""
    # A tier the person asks for: `/tier <name>` in chat, `router:<slug>/<name>` in /v1.
    user_tier: str = ""


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    design: str
    summary: str
    roles: tuple[Role, ...]
    primary: str  # a role, or "profile:<name>" (the profile's best model)
    rules: tuple[Mapping[str, Any], ...]
    examples: tuple[Example, ...]
    classifier: str = ""  # a role; empty: the primary judges LLM rules
    preferred_families: bool = False
    semantic: bool = False
    # Tiers: (tier name, role bound to it) for the default tiers (engine.tiers.DEFAULT_TIERS);
    # the tier messages no rule claims go to; whether the classifier may escalate it.
    tiers: tuple[tuple[str, str], ...] = ()
    default_tier: str = ""
    escalation: bool = False


@dataclass
class Binding:
    role: Role
    model: str | None
    why: str
    warning: str = ""


@dataclass
class ExamplePlan:
    example: Example
    model: str | None
    target: str  # 'role “small”', 'profile “fast”' or 'tier “coding”'


@dataclass
class Plan:
    template: Template
    bindings: dict[str, Binding]
    preferred_families: tuple[str, ...]
    primary: str | None
    primary_why: str
    classifier: str | None
    embedding_model: str
    embedding_why: str
    examples: list[ExamplePlan] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Tier name → its bound model (the role's), for templates with tiers.
    tier_models: dict[str, str | None] = field(default_factory=dict)

    @property
    def can_create(self) -> bool:
        return self.primary is not None and not any(b.model is None for b in self.bindings.values())


def _kw(*words: str) -> dict[str, Any]:
    return {"property": "keywords", "operator": "contains_any", "value": list(words)}


def _cond(prop: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"property": prop, "operator": operator, "value": value}


CODE_WORDS = _kw(
    "python", "javascript", "typescript", "sql", "function", "bug", "stack trace", "compile",
    "exception", "refactor", "regex",
)  # fmt: skip

SMALL = Role("small", "Quick, cheap answers: greetings and short questions", ("small", "medium"))
CODER = Role(
    "coder", "Code: a mid-sized model with room for source files", ("medium", "large"),
    min_context=32_000,
)  # fmt: skip
GENERAL = Role("general", "Everything else: a balanced mid-sized model", ("medium", "large"))
LARGE = Role(
    "large",
    "Hard, long or sensitive requests: the most capable model, images included",
    ("large", "medium"),
    needs_images=True,
)

LONG_DOCUMENT = "Summarise this report for the board. " + " ".join(
    f"Section {n}: revenue, costs, hiring, risks and the plan for the next quarter in detail."
    for n in range(1, 450)
)

TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            name="keywords-llm",
            title="Keywords and an LLM judge",
            design="The simplest design: keyword rules for what is obvious, one LLM judge for "
            "what needs judgment, a cheap model for the rest.",
            summary="Code keywords go to the coder; a classifier judges hard, legal or "
            "financial questions for the large model; everything else stays on the small one.",
            roles=(SMALL, CODER, LARGE),
            primary="small",
            classifier="small",
            rules=(
                {
                    "name": "Code",
                    "kind": "calculated",
                    "match": "any",
                    "conditions": [CODE_WORDS, _cond("has_code", "is_true")],
                    "role": "coder",
                },
                {
                    "name": "Hard questions",
                    "kind": "llm",
                    "description": "Legal, medical or financial questions: contracts, "
                    "compliance, regulation, diagnosis, taxes or investments.",
                    "role": "large",
                },
            ),
            examples=(
                Example("My python function throws a stack trace", "keyword rule “Code”", "coder"),
                Example(
                    "Does this contract clause meet GDPR compliance rules?",
                    "the LLM judge: “Hard questions”",
                    "large",
                ),
                Example("What's a good name for a grey cat?", "no rule: the primary", "small"),
            ),
        ),
        Template(
            name="profiles",
            title="Profiles",
            design="Profiles and preferred families: rules ask for a kind of model (fast, "
            "general, code, creative), and the catalog's models that meet it answer, ranked "
            "by the router's preferred families and price; the next one is the fallback.",
            summary="Code to the “code” profile, writing to “creative”, short questions to "
            "“fast”, everything else to “general” — no model named in any rule.",
            roles=(),
            primary="profile:general",
            preferred_families=True,
            rules=(
                {
                    "name": "Code",
                    "kind": "calculated",
                    "match": "any",
                    "conditions": [CODE_WORDS, _cond("has_code", "is_true")],
                    "profile": "code",
                },
                {
                    "name": "Creative writing",
                    "kind": "calculated",
                    "conditions": [
                        _kw("poem", "story", "lyrics", "haiku", "slogan", "novel", "song", "essay")
                    ],
                    "profile": "creative",
                },
                {
                    "name": "Quick questions",
                    "kind": "calculated",
                    "conditions": [_cond("message_tokens", "lte", 30)],
                    "profile": "fast",
                },
                {
                    "name": "Everything else",
                    "kind": "calculated",
                    "conditions": [_cond("message_chars", "gte", 0)],
                    "profile": "general",
                },
            ),
            examples=(
                Example(
                    "Refactor this:\n```js\nvar x = 1;\nvar y = x + 1;\n```",
                    "“Code”",
                    profile="code",
                ),
                Example(
                    "Write a short poem about autumn rain", "“Creative writing”", profile="creative"
                ),
                Example("Hi! What's the capital of France?", "“Quick questions”", profile="fast"),
                Example(
                    "We are planning the offsite for forty people in March; compare renting a "
                    "venue in town with going to the coast, considering travel time, budget and "
                    "the weather at that time of year.",
                    "“Everything else”",
                    profile="general",
                ),
            ),  # fmt: skip
        ),
        Template(
            name="hybrid",
            title="Hybrid",
            design="Context first, then cheap signals, then meaning, then judgment: workspace "
            "context → fast signals (code blocks, greetings, long documents, short questions) "
            "→ semantic rules → LLM rules → the default tier.",
            summary="Each step costs more than the one before, so most messages are decided "
            "for free; only what is left reaches the embedding and then the classifier.",
            roles=(SMALL, CODER, GENERAL, LARGE),
            primary="general",
            classifier="small",
            semantic=True,
            # The default: the balanced tier (so /tier and router:<slug>/<tier> work too).
            tiers=(
                ("balanced", "general"),
                ("smart", "large"),
                ("coding", "coder"),
                ("deep", "large"),
            ),
            default_tier="balanced",
            rules=(
                {
                    "name": "Coding workspace",
                    "kind": "calculated",
                    "conditions": [_cond("workspace_type", "eq", "coding")],
                    "role": "coder",
                },
                {
                    "name": "Legal workspace",
                    "kind": "calculated",
                    "conditions": [_cond("workspace_tags", "contains_any", ["legal"])],
                    "role": "large",
                },
                {
                    "name": "Code blocks",
                    "kind": "calculated",
                    "conditions": [_cond("has_code", "is_true")],
                    "role": "coder",
                },
                {
                    "name": "Greetings",
                    "kind": "calculated",
                    "conditions": [
                        _kw("hi", "hello", "hey", "thanks", "thank you", "good morning"),
                        _cond("message_tokens", "lte", 12),
                    ],
                    "role": "small",
                },
                {
                    "name": "Long documents",
                    "kind": "calculated",
                    "conditions": [_cond("conversation_tokens", "gt", 8_000)],
                    "role": "large",
                },
                {
                    "name": "Short questions",
                    "kind": "calculated",
                    "conditions": [_cond("message_tokens", "lte", 20)],
                    "role": "small",
                },
                {
                    "name": "Translations",
                    "kind": "semantic",
                    "examples": [
                        "Translate this paragraph into French",
                        "How do you say thank you in Spanish?",
                        "What does this German sentence mean in English?",
                        "Put this text into Italian for our customers",
                        "Translate the following email to Portuguese",
                    ],
                    "threshold": 0.35,
                    "role": "small",
                },
                {
                    "name": "Legal & compliance",
                    "kind": "llm",
                    "description": "Questions about contracts, law, regulation, GDPR or "
                    "compliance.",
                    "role": "large",
                },
            ),
            examples=(
                Example(
                    "How should I name this variable?",
                    "workspace context: a coding workspace",
                    "coder",
                    workspace_type="coding",
                ),
                Example(
                    "Can they end the lease early?",
                    "workspace context: tagged legal",
                    "large",
                    workspace_tags=("legal",),
                ),
                Example(
                    "```python\nprint(sum(range(10)))\n```", "fast signal: a code block", "coder"
                ),
                Example("hello there!", "fast signal: a greeting", "small"),
                Example(
                    LONG_DOCUMENT,
                    "fast signal: a long document",
                    "large",
                    label="“Summarise this report for the board.” + a ~9,000-token report",
                ),
                Example(
                    "What time is it in Tokyo right now?", "fast signal: a short question", "small"
                ),
                Example(
                    "Please translate this paragraph into French for our customers: we are "
                    "delighted to announce our new opening hours from Monday.",
                    "semantic rule “Translations”",
                    "small",
                ),
                Example(
                    "Our supplier sent new contracts to sign next month; which GDPR and "
                    "compliance questions should we raise with them before we agree?",
                    "LLM rule “Legal & compliance”",
                    "large",
                ),
                Example(
                    "Plan a three-day walking route through the Scottish highlands with "
                    "villages to sleep in, distances per day and what to pack for wet weather.",
                    "nothing matched: the default tier",
                    tier="balanced",
                ),
            ),  # fmt: skip
        ),
        Template(
            name="tiers",
            title="Tiers",
            design="Request a tier, not a model: rules, workspaces and people ask for "
            "balanced, smart, coding or deep, each bound to a model, so changing the model "
            "for a whole team is one edit; the classifier may escalate an everyday turn to a "
            "higher tier, never demote it.",
            summary="Code goes to the coding tier and long documents to deep; everything else "
            "starts on balanced and is escalated when the classifier judges it hard; `/tier "
            "deep` (or `router:<slug>/deep` in /v1) asks for a tier outright.",
            roles=(SMALL, GENERAL, CODER, LARGE),
            primary="small",
            classifier="small",
            tiers=(
                ("balanced", "small"),
                ("smart", "general"),
                ("coding", "coder"),
                ("deep", "large"),
            ),
            default_tier="balanced",
            escalation=True,
            rules=(
                {
                    "name": "Code",
                    "kind": "calculated",
                    "match": "any",
                    "conditions": [CODE_WORDS, _cond("has_code", "is_true")],
                    "tier": "coding",
                },
                {
                    "name": "Long documents",
                    "kind": "calculated",
                    "conditions": [_cond("conversation_tokens", "gt", 8_000)],
                    "tier": "deep",
                },
            ),
            examples=(
                Example(
                    "My python function throws a stack trace",
                    "rule “Code” → tier coding",
                    tier="coding",
                ),
                Example(
                    LONG_DOCUMENT,
                    "rule “Long documents” → tier deep",
                    tier="deep",
                    label="“Summarise this report for the board.” + a ~9,000-token report",
                ),
                Example(
                    "What's a good pasta recipe for tonight?", "the default tier", tier="balanced"
                ),
                Example(
                    "Walk me step by step through how a mortgage offset account saves interest",
                    "judged hard: escalated from balanced",
                    tier="deep",
                ),
                Example(
                    "What's a good pasta recipe for tonight?",
                    "the person asked: /tier smart",
                    tier="smart",
                    user_tier="smart",
                ),
            ),  # fmt: skip
        ),
        Template(
            name="category-complexity",
            title="Category × complexity",
            design="The classifier judges each message's task category and complexity in one "
            "small call; category rules come first (so category wins), then complexity rules, "
            "then the cheap primary model.",
            summary="Code to the coder, translations to the small model, creative writing to "
            "the large one; otherwise hard messages go large, medium ones to a mid-sized model "
            "and simple ones stay small. One classifier call per message at most.",
            roles=(SMALL, GENERAL, CODER, LARGE),
            primary="small",
            classifier="small",
            rules=(
                {
                    "name": "Code",
                    "kind": "calculated",
                    "conditions": [_cond("category", "eq", "code")],
                    "role": "coder",
                },
                {
                    "name": "Translation",
                    "kind": "calculated",
                    "conditions": [_cond("category", "eq", "translation")],
                    "role": "small",
                },
                {
                    "name": "Creative & research",
                    "kind": "calculated",
                    "conditions": [_cond("category", "contains_any", ["creative", "research"])],
                    "role": "large",
                },
                {
                    "name": "Hard",
                    "kind": "calculated",
                    "conditions": [_cond("complexity", "gte", "hard")],
                    "role": "large",
                },
                {
                    "name": "Medium",
                    "kind": "calculated",
                    "conditions": [_cond("complexity", "eq", "medium")],
                    "role": "general",
                },
            ),
            examples=(
                Example("Why does my python script raise a KeyError?", "category code", "coder"),
                Example("How do you say good morning in Spanish?", "category translation", "small"),
                Example("Write a limerick about a sleepy cat", "category creative", "large"),
                Example(
                    "Explain in detail how interest rates shape house prices",
                    "category chat, complexity hard",
                    "large",
                ),
                Example(
                    "We have two free days in Lisbon with two kids who love museums, beaches "
                    "and trams; what would a relaxed plan look like for both days?",
                    "category chat, complexity medium",
                    "general",
                ),
                Example(
                    "Hi, how are you today?",
                    "category chat, complexity simple: the primary",
                    "small",
                ),
            ),  # fmt: skip
        ),
    )
}


# --- binding roles to the catalog ------------------------------------------------------------


def _role_profile(role: Role, sizes: tuple[str, ...]) -> ProfileSpec:
    return ProfileSpec(
        role.name, needs_images=role.needs_images, min_context=role.min_context, size_classes=sizes
    )


def bind_role(role: Role, models: Mapping[str, ModelInfo]) -> Binding:
    """The cheapest model meeting the role, its first size class first; failing that, another
    size class (with a warning); failing that, none."""
    extras = []
    if role.needs_images:
        extras.append("accepts images")
    if role.min_context:
        extras.append(f"≥ {role.min_context:,}-token context")
    needs = f" ({', '.join(extras)})" if extras else ""
    for i, size in enumerate(role.sizes):
        found = resolve_profile(_role_profile(role, (size,)), models)
        if found.candidates:
            best = found.candidates[0]
            others = len(found.candidates) - 1
            why = f"the cheapest {size} model{needs}: ${best.price:,.2f} per 1M in + out" + (
                f", ahead of {others} other{'s' if others > 1 else ''}" if others else ""
            )
            warning = (
                f"No {role.sizes[0]} model{needs} in the catalog for “{role.name}”: "
                f"{best.ref} ({size}) stands in."
                if i
                else ""
            )
            return Binding(role, best.ref, why, warning)
    # No size class fits: any chat model meeting the other needs (a catalog without size
    # classes, e.g. a fresh OpenAI-compatible server), cheapest first.
    found = resolve_profile(_role_profile(role, ()), models)
    if found.candidates:
        best = found.candidates[0]
        return Binding(
            role,
            best.ref,
            f"the cheapest model{needs}: ${best.price:,.2f} per 1M in + out",
            f"No {' or '.join(role.sizes)} model{needs} in the catalog for “{role.name}” "
            f"(set size classes on the provider page): {best.ref} stands in.",
        )
    return Binding(
        role,
        None,
        "",
        f"No model in the catalog suits “{role.name}” ({role.purpose.lower()}{needs}).",
    )


def preferred_families_for(models: Mapping[str, ModelInfo]) -> tuple[str, ...]:
    present = {m.family for m in models.values() if m.family}
    return (
        *(f for f in KNOWN_FAMILIES if f in present),
        *sorted(present - set(KNOWN_FAMILIES)),
    )


def _embedding_choice(providers: set[str]) -> tuple[str, str]:
    """The cheapest embedding model of the providers the chat models come from."""
    model = (
        catalog_list_embedding()
        .filter(provider__slug__in=providers)
        .order_by("input_price_per_m", "id")
        .first()
    )
    if model is not None:
        return model.ref, f"the cheapest embedding model of the catalog ({model.display_name})"
    return (
        DEFAULT_EMBEDDING_MODEL,
        "the built-in local model (no embedding model in the catalog)",
    )


def template_plan(template: Template, models: Mapping[str, ModelInfo] | None = None) -> Plan:
    """Bind the template to this instance's catalog, saying what it chose and why."""
    if models is None:
        models, _ = catalog_snapshot()
    bindings = {role.name: bind_role(role, models) for role in template.roles}
    families = preferred_families_for(models) if template.preferred_families else ()
    profiles = profiles_defined()
    warnings = [b.warning for b in bindings.values() if b.warning]

    def profile_model(name: str) -> str | None:
        spec = profiles.get(name)
        if spec is None:
            return None
        chain = resolve_profile(spec, models, families).chain
        return chain[0] if chain else None

    primary: str | None
    if template.primary.startswith("profile:"):
        name = template.primary.removeprefix("profile:")
        primary = profile_model(name)
        primary_why = f"the best model of the profile “{name}”"
        if primary is None:
            cheapest = sorted(
                models.values(), key=lambda m: (m.input_price + m.output_price, m.ref)
            )
            primary = cheapest[0].ref if cheapest else None
            primary_why = "the cheapest model of the catalog"
            warnings.append(f"No model meets the profile “{name}”: {primary} is the primary.")
    else:
        primary = bindings[template.primary].model
        primary_why = f"role “{template.primary}”"
    for rule in template.rules:
        wanted = rule.get("profile")
        if wanted and profile_model(wanted) is None:
            warnings.append(
                f"No model of the catalog meets the profile “{wanted}” (rule “{rule['name']}”): "
                "it will fall back to the primary until one does."
            )
    providers = {ref.split("/", 1)[0] for ref in models}
    embedding, embedding_why = _embedding_choice(providers) if template.semantic else ("", "")
    if template.semantic and embedding == DEFAULT_EMBEDDING_MODEL:
        warnings.append(
            "Semantic rules will use the built-in local embedding model; until its weights "
            "are available they are skipped (the reason says so)."
        )
    plan = Plan(
        template=template,
        bindings=bindings,
        preferred_families=families,
        primary=primary,
        primary_why=primary_why,
        classifier=bindings[template.classifier].model if template.classifier else None,
        embedding_model=embedding,
        embedding_why=embedding_why,
        warnings=list(dict.fromkeys(warnings)),
    )
    plan.tier_models = {tier: bindings[role].model for tier, role in template.tiers}
    for example in template.examples:
        if example.profile:
            model = profile_model(example.profile)
            target = f"profile “{example.profile}”"
        elif example.tier:
            model = plan.tier_models[example.tier]
            target = f"tier “{example.tier}”"
        else:
            model = bindings[example.role].model
            target = f"role “{example.role}”"
        plan.examples.append(ExamplePlan(example, model, target))
    return plan


def _rule_target(rule: Mapping[str, Any]) -> str:
    if "profile" in rule:
        return f"profile:{rule['profile']}"
    if "tier" in rule:
        return f"tier:{rule['tier']}"
    return str(rule["role"])


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as plain data (JSON API, `manage.py router_template list --json`)."""
    template = plan.template
    return {
        "name": template.name,
        "title": template.title,
        "design": template.design,
        "summary": template.summary,
        "can_create": plan.can_create,
        "warnings": list(plan.warnings),
        "roles": [
            {
                "role": b.role.name,
                "purpose": b.role.purpose,
                "model": b.model,
                "why": b.why,
                "warning": b.warning,
            }
            for b in plan.bindings.values()
        ],
        "primary_model": plan.primary,
        "classifier_model": plan.classifier,
        "embedding_model": plan.embedding_model or None,
        "preferred_families": list(plan.preferred_families),
        "tiers": [{"tier": tier, "model": model} for tier, model in plan.tier_models.items()],
        "default_tier": template.default_tier,
        "escalation": template.escalation,
        "rules": [
            {
                "name": rule["name"],
                "kind": rule["kind"],
                "target": _rule_target(rule),
            }
            for rule in template.rules
        ],
        "examples": [
            {
                "message": e.example.label or e.example.text,
                "workspace_type": e.example.workspace_type,
                "workspace_tags": list(e.example.workspace_tags),
                "user_tier": e.example.user_tier,
                "decided_by": e.example.why,
                "target": e.target,
                "model": e.model,
            }
            for e in plan.examples
        ],
    }


def template_file(plan: Plan, *, name: str = "", slug: str = "") -> dict[str, Any]:
    """The plan as a router file (routers/schemas.py), ready for `router_import`."""
    template = plan.template
    rules = []
    for rule in template.rules:
        doc = {k: v for k, v in rule.items() if k not in ("role", "profile", "tier")}
        if "profile" in rule:
            doc["target_profile"] = rule["profile"]
        elif "tier" in rule:
            doc["target_tier"] = rule["tier"]
        else:
            doc["target_model"] = plan.bindings[rule["role"]].model
        rules.append(doc)
    router: dict[str, Any] = {
        "name": name or template.title,
        "description": f"From the template “{template.title}”. {template.design}",
        "primary_model": plan.primary,
        "rules": rules,
    }
    if slug:
        router["slug"] = slug
    else:
        router["slug"] = template.name
    if plan.classifier:
        router["classifier_model"] = plan.classifier
    if plan.embedding_model:
        router["embedding_model"] = plan.embedding_model
    if plan.preferred_families:
        router["preferred_families"] = list(plan.preferred_families)
    if template.tiers:
        router["tiers"] = [
            {
                "name": tier.name,
                "model": plan.tier_models.get(tier.name) or "",
                "fallback": tier.fallback,
                "description": tier.description,
            }
            for tier in DEFAULT_TIERS
        ]
        router["default_tier"] = template.default_tier
        router["escalation"] = template.escalation
    return {"format": FORMAT, "version": FORMAT_VERSION, "router": router}


def template_get(name: str) -> Template:
    template = TEMPLATES.get(name)
    if template is None:
        raise ValidationError(
            {"template": f"Unknown template '{name}'. Templates: {', '.join(TEMPLATES)}."}
        )
    return template


def router_create_from_template(
    *,
    owner: User,
    template: str,
    slug: str = "",
    name: str = "",
    visibility: str = "private",
    models: Mapping[str, ModelInfo] | None = None,
) -> tuple[Router, Plan]:
    """Create an ordinary router from a template bound to this catalog. An explicit slug that
    is taken is an error; without one, the template's name with a free suffix. Raises
    ValidationError (nothing created) when a role has no model at all."""
    plan = template_plan(template_get(template), models)
    if not plan.can_create:
        raise ValidationError({"template": plan.warnings or ["The catalog has no chat model."]})
    data = template_file(plan, name=name, slug="")
    data["router"]["visibility"] = visibility
    router = router_import(owner=owner, data=data, slug=slug or None)
    return router, plan


def template_names() -> Sequence[str]:
    return list(TEMPLATES)
