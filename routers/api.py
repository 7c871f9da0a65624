"""JSON API for routers, rules and the dry-run test panel.

The same selectors (reads) and services (writes) as the rule builder, and the same rule for
who may do what: anyone who may use a router may read and dry-run it; only those who may
edit it (`router_can_edit`) may change it. Domain errors become responses in
`routerweb/api.py`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from ninja import Body, Field, Router, Schema, Status
from pydantic import ConfigDict, model_validator

from accounts.models import User
from engine.limits import MAX_CONDITIONS_PER_RULE, MAX_COOLDOWN_MINUTES, unstorable_problem
from routers import services
from routers.compiling import catalog_snapshot
from routers.models import Router as RouterRow
from routers.models import RouterVersion, Rule
from routers.router_templates import (
    TEMPLATES,
    plan_to_dict,
    router_create_from_template,
    template_plan,
)
from routers.schemas import SLUG_PATTERN
from routers.selectors import (
    router_can_edit,
    router_get_for_user,
    router_list_usable_by,
    rule_get_for_router,
)
from routers.versions import (
    router_publish,
    router_rollback,
    snapshot_diff,
    version_get,
    version_list,
)

router = Router(tags=["routers"])

ModelRef = str  # "provider/model-id"
# Database ids are 64-bit: a larger number in a URL names nothing (rather than overflowing a query).
MAX_ID = 2**63 - 1
# The default of a PATCH field that may not be null: pydantic does not validate defaults, so an
# omitted field is None (and `exclude_unset` drops it) while a sent null is still refused. Typed
# Any because None is not a value of the field's type.
NOT_SENT: Any = None


class ErrorOut(Schema):
    detail: Any
    errors: list[dict[str, str]] | None = None


ERRORS: dict[int, Any] = {403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class In(Schema):
    """Base of request bodies: a NUL character (PostgreSQL cannot store it) or a lone surrogate
    (`"\\ud800"`: not UTF-8, no driver can encode it) anywhere in the body is refused here,
    before a field without constraints lets it through to a service or the database."""

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        if problem := unstorable_problem(data):
            raise ValueError(problem)
        return data


# --- routers -------------------------------------------------------------------------------


# Names, lengths, ranges and counts are checked by the service, with the engine's words
# (`engine.router_problems`), so a mistake reads as in the form and an import; the schema
# keeps types only.
class RouterIn(In):
    name: str = Field(description="One line, at most 100 characters")
    slug: str = Field(
        "", max_length=60, description="Letters, digits, - and _; derived from the name when empty."
    )
    description: str = Field("", description="At most 10,000 characters")
    visibility: Literal["private", "shared"] = "private"
    primary_model: ModelRef = Field(
        max_length=300, description="provider/model-id of the enabled catalog"
    )
    classifier_model: ModelRef | None = Field(None, max_length=300)
    fallbacks: list[ModelRef] = Field(default_factory=list, description="At most 20")
    sticky: bool = False
    cooldown_minutes: int = Field(30, description=f"0 to {MAX_COOLDOWN_MINUTES:,} minutes")
    time_zone: str = Field(
        "", max_length=64, description="IANA zone; empty: the instance's TIME_ZONE"
    )
    embedding_model: ModelRef = Field(
        "local/potion-base-8M",
        max_length=300,
        description="Embeds for semantic rules: a catalog embedding model or local/potion-base-8M",
    )
    preferred_families: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Model families ranked first for profile rules (claude, llama…)",
    )


class RouterPatch(In):
    """Only the fields sent change; the router's version is bumped. Only `classifier_model`
    may be null (back to the primary model): a null elsewhere is refused, not read as "keep"."""

    name: str = Field(NOT_SENT)
    slug: str = Field(NOT_SENT, max_length=60, pattern=SLUG_PATTERN)
    description: str = Field(NOT_SENT)
    visibility: Literal["private", "shared"] = Field(NOT_SENT)
    primary_model: ModelRef = Field(NOT_SENT, max_length=300)
    classifier_model: ModelRef | None = Field(None, max_length=300)
    fallbacks: list[ModelRef] = Field(NOT_SENT)
    sticky: bool = Field(NOT_SENT)
    cooldown_minutes: int = Field(NOT_SENT)
    time_zone: str = Field(NOT_SENT, max_length=64)
    embedding_model: ModelRef = Field(NOT_SENT, max_length=300)
    preferred_families: list[str] = Field(NOT_SENT, max_length=20)


class FailoverPolicyIn(In):
    """A router's overrides of the failure policy; a field left out (or null) uses the site's
    default. The whole set is replaced, and the router's version is bumped."""

    # A misspelt setting must be an error, not silently dropped (the set is replaced whole).
    model_config = ConfigDict(extra="forbid")

    max_attempts: int | None = Field(None, ge=1, le=5, description="Tries per model")
    backoff_max: float | None = Field(None, ge=0, le=60, description="Longest backoff wait (s)")
    first_token_timeout: float | None = Field(None, ge=1, le=300)
    stall_timeout: float | None = Field(None, ge=1, le=300)
    continue_cut_answers: bool | None = Field(
        None, description="Continue an answer cut mid-stream on the next model"
    )
    fall_back_on_refusal: bool | None = Field(
        None, description="After a content-policy refusal, try the next model"
    )


class TierIn(In):
    name: str = Field(min_length=1, max_length=32, description="lowercase, e.g. coding")
    model: str = Field("", max_length=300, description='"provider/model-id", or "" for unset')
    fallback: str = Field("", max_length=32, description="The tier used while this one is unset")
    description: str = Field("", max_length=200)
    was: str = Field(
        "", max_length=32, description="The tier's current name, to rename it (rules follow)"
    )


class TiersIn(In):
    """The router's tiers, in order (the list is replaced whole); the router's version is bumped."""

    tiers: list[TierIn] = Field(max_length=12)
    default_tier: str = Field(
        NOT_SENT, max_length=32, description='Where unmatched messages go ("": the primary model)'
    )
    escalation: bool = Field(
        NOT_SENT, description="The classifier may promote a default-tier turn to a higher tier"
    )


class CategoriesIn(In):
    categories: list[Annotated[str, Field(max_length=32)]] = Field(min_length=1, max_length=20)


class TierOut(Schema):
    name: str
    model: str
    fallback: str
    description: str


class RouterOut(Schema):
    id: int
    name: str
    slug: str
    model: str = Field(description="What to send as `model` to /v1/chat/completions")
    description: str
    owner: str
    visibility: str
    primary_model: str
    classifier_model: str | None
    fallbacks: list[str]
    sticky: bool
    cooldown_minutes: int
    time_zone: str
    embedding_model: str
    preferred_families: list[str]
    failover_policy: dict[str, Any] = Field(
        description="This router's overrides of the failure policy (empty: the defaults)"
    )
    tiers: list[TierOut] = Field(description="Named tiers, each bound to a model or unset")
    default_tier: str
    escalation: bool
    categories: list[str]
    version: int = Field(description="The draft's edit count: every edit bumps it")
    published_version: int | None = Field(
        description="The version traffic uses (None: never published, the draft routes)"
    )
    can_edit: bool
    created_at: datetime
    updated_at: datetime


class ConditionIn(In):
    property: str = Field(max_length=100)
    operator: str = Field(max_length=100)
    value: Any = None


class RuleIn(In):
    """Checked by the service with the engine's words (`engine.rule_problems`): every problem
    comes back at once, located (`conditions[0].value`), as the form and an import say it."""

    name: str = Field(description="One line, at most 100 characters")
    kind: Literal["calculated", "llm", "semantic"]
    target_model: ModelRef | None = Field(
        None, max_length=300, description="The model it sends to (or give target_profile)"
    )
    target_profile: str = Field(
        "",
        max_length=40,
        description="A profile (fast, general, code, creative or an admin's): its best models answer",
    )
    target_tier: str = Field("", max_length=32, description="Send to this tier of the router")
    match: Literal["all", "any"] = "all"
    conditions: list[ConditionIn] = Field(
        default_factory=list, description=f"Calculated rules: 1–{MAX_CONDITIONS_PER_RULE}"
    )
    description: str = Field("", description="LLM rules: when the rule applies")
    fallbacks: list[ModelRef] = Field(default_factory=list, description="At most 20")
    enabled: bool = True
    examples: list[str] = Field(
        default_factory=list, description="Semantic rules: 2–200 example messages"
    )
    threshold: float = Field(0.7, description="Semantic rules: cosine similarity, 0–1")
    margin: float | None = Field(
        None, description="Semantic rules: lead needed over the runner-up of its run, 0–1"
    )


class RulePatch(In):
    """Only the fields sent change (none of them may be null)."""

    name: str = Field(NOT_SENT)
    kind: Literal["calculated", "llm", "semantic"] = Field(NOT_SENT)
    target_model: ModelRef = Field(NOT_SENT, max_length=300)
    target_profile: str = Field(NOT_SENT, max_length=40, description='"" targets target_model')
    target_tier: str = Field(NOT_SENT, max_length=32)
    match: Literal["all", "any"] = Field(NOT_SENT)
    conditions: list[ConditionIn] = Field(NOT_SENT)
    description: str = Field(NOT_SENT)
    fallbacks: list[ModelRef] = Field(NOT_SENT)
    examples: list[str] = Field(NOT_SENT)
    threshold: float = Field(NOT_SENT)
    margin: float | None = None


class RuleOut(Schema):
    id: int
    name: str
    enabled: bool
    position: int
    kind: str
    match: str
    conditions: list[dict[str, Any]]
    description: str
    target_model: str | None
    target_profile: str
    target_tier: str = Field(description='The tier the rule sends to ("": a model)')
    fallbacks: list[str]
    examples: list[str]
    threshold: float
    margin: float | None


class RouterDetailOut(RouterOut):
    rules: list[RuleOut]


class ReorderIn(In):
    rule_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        max_length=1000, description="Every rule id of the router, in the new order"
    )


class DryRunIn(In):
    message: str = Field(max_length=100_000)
    version: int | None = Field(
        None, ge=1, le=MAX_ID, description="A published version to route with; omitted: the draft"
    )
    has_image: bool = False
    conversation_tokens: int | None = Field(None, ge=0, le=100_000_000)
    turns: int | None = Field(None, ge=0, le=1_000_000)
    time_of_day: str | None = Field(
        None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM in the router's zone"
    )
    workspace_type: Literal["", "general", "coding", "writing", "research"] = Field(
        "", description="Route as if in a workspace of this type"
    )
    workspace_tags: list[str] = Field(default_factory=list, max_length=20)
    tier: str = Field("", max_length=32, description="Route as if the user asked for this tier")
    workspace_tier: str = Field("", max_length=32, description="As if the workspace had this tier")


class DecisionOut(Schema):
    """What the router decided (the engine's `Decision`), without calling the answering model."""

    router_id: int
    router_version: int
    source: str = Field(
        description="rule, sticky, primary (no rule matched, or the router is invalid), "
        "or what refused: policy, budget"
    )
    rule_id: int | None
    rule_name: str | None
    rule_kind: str | None
    model: str | None
    chain: list[str]
    skipped: list[dict[str, str]]
    reason: str
    classifier: dict[str, Any] | None
    classifier_called: bool
    decision_us: float
    embedding: dict[str, Any] | None = Field(
        None, description="The embedding call for semantic rules: model, latency, cached, error"
    )
    profile: dict[str, Any] | None = Field(
        None,
        description="When a rule targets a profile: its requirements, the ranked models with "
        "how each was scored, those that did not qualify and why, and the chosen one's score",
    )
    tier: str | None = Field(None, description="The tier the turn used (null: no tier)")
    tier_source: str | None = Field(
        None, description="Why: user, workspace, rule, escalation or default"
    )
    tier_via: list[str] = Field(default_factory=list, description="Unset tiers fallen back from")
    category: str | None = Field(None, description="The classifier's category, when judged")
    complexity: str | None = Field(None, description="The classifier's complexity, when judged")
    verdicts: list[dict[str, Any]]
    refusal: str = Field(
        "", description="Why nothing would be sent (a policy, a budget, no suitable model); '' else"
    )


def api_user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined, return-value]


def _router_out(row: RouterRow, user: User) -> dict[str, Any]:
    return {
        "id": row.pk,
        "name": row.name,
        "slug": row.slug,
        "model": f"router:{row.slug}",
        "description": row.description,
        "owner": row.owner.username,
        "visibility": row.visibility,
        "primary_model": row.primary_model.ref,
        "classifier_model": row.classifier_model.ref if row.classifier_model is not None else None,
        "fallbacks": list(row.fallbacks or []),
        "sticky": row.sticky,
        "cooldown_minutes": row.cooldown_minutes,
        "time_zone": row.time_zone,
        "embedding_model": row.embedding_model,
        "preferred_families": list(row.preferred_families or []),
        "failover_policy": dict(row.failover_policy or {}),
        "tiers": [
            {
                "name": str(t.get("name", "")),
                "model": str(t.get("model") or ""),
                "fallback": str(t.get("fallback") or ""),
                "description": str(t.get("description") or ""),
            }
            for t in row.tiers or ()
            if isinstance(t, dict)
        ],
        "default_tier": row.default_tier,
        "escalation": row.escalation,
        "categories": list(row.categories or ()),
        "version": row.version,
        "published_version": row.published_version.number if row.published_version else None,
        "can_edit": router_can_edit(user=user, router=row),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _rule_out(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "name": rule.name,
        "enabled": rule.enabled,
        "position": rule.position,
        "kind": rule.kind,
        "match": rule.match,
        "conditions": list(rule.conditions or []),
        "description": rule.description,
        "target_model": rule.target_model.ref if rule.target_model is not None else None,
        "target_profile": rule.target_profile,
        "target_tier": rule.target_tier,
        "fallbacks": list(rule.fallbacks or []),
        "examples": list(rule.examples or []),
        "threshold": rule.threshold,
        "margin": rule.margin,
    }


def _rules(row: RouterRow) -> list[Rule]:
    return list(row.rules.select_related("target_model__provider").order_by("position", "id"))


def router_for(request: HttpRequest, pk: int, *, edit: bool = False) -> RouterRow:
    """The router if the user may use it (else 404), and may edit it when `edit` (else 403)."""
    user = api_user(request)
    if not 0 < pk <= MAX_ID:
        raise Http404("No such router.")
    row = router_get_for_user(user=user, pk=pk)
    if edit and not router_can_edit(user=user, router=row):
        raise PermissionDenied(
            "Only the router's owner (or a manager, for a shared router) may change it."
        )
    return row


def _rule_for(*, router: RouterRow, pk: int) -> Rule:
    if not 0 < pk <= MAX_ID:
        raise Http404("No such rule in this router.")
    return rule_get_for_router(router=router, pk=pk)


def _reload(pk: int, user: User) -> RouterRow:
    return router_get_for_user(user=user, pk=pk)


# --- templates -----------------------------------------------------------------------------


class TemplateRoleOut(Schema):
    role: str
    purpose: str
    model: str | None = Field(description="The catalog model bound to the role (null: none fits)")
    why: str
    warning: str


class TemplateRuleOut(Schema):
    name: str
    kind: str
    target: str = Field(description="A role, profile:<name> or tier:<name>")


class TemplateTierOut(Schema):
    tier: str
    model: str | None


class TemplateExampleOut(Schema):
    message: str
    workspace_type: str
    workspace_tags: list[str]
    user_tier: str = Field(
        description="A tier asked for: /tier in chat, router:<slug>/<tier> in /v1"
    )
    decided_by: str
    target: str
    model: str | None


class TemplateOut(Schema):
    name: str
    title: str
    design: str
    summary: str
    can_create: bool
    warnings: list[str]
    roles: list[TemplateRoleOut]
    primary_model: str | None
    classifier_model: str | None
    embedding_model: str | None
    preferred_families: list[str]
    tiers: list[TemplateTierOut]
    default_tier: str
    escalation: bool
    rules: list[TemplateRuleOut]
    examples: list[TemplateExampleOut]


class TemplateCreateIn(In):
    model_config = ConfigDict(extra="forbid")

    slug: str = Field(
        "",
        max_length=60,
        pattern=r"^[-a-zA-Z0-9_]*$",
        description="Empty: the template's name (with a number when taken)",
    )
    name: str = Field("", max_length=100, description="Empty: the template's title")
    visibility: Literal["private", "shared"] = "private"


def _template(name: str) -> Any:
    template = TEMPLATES.get(name)
    if template is None:
        raise Http404(f"No template '{name}'. Templates: {', '.join(TEMPLATES)}.")
    return template


@router.get("/templates", response=list[TemplateOut], summary="Router templates")
def list_templates(request: HttpRequest) -> list[dict[str, Any]]:
    """Every template, bound to this instance's catalog: the model each role gets and why,
    warnings, and where each example message goes."""
    api_user(request)
    models, _ = catalog_snapshot()
    return [plan_to_dict(template_plan(t, models)) for t in TEMPLATES.values()]


@router.get("/templates/{name}", response={200: TemplateOut, **ERRORS}, summary="A template")
def get_template(request: HttpRequest, name: str) -> dict[str, Any]:
    api_user(request)
    return plan_to_dict(template_plan(_template(name)))


@router.post(
    "/templates/{name}",
    response={201: RouterDetailOut, **ERRORS},
    summary="Create a router from a template",
)
def create_from_template(
    request: HttpRequest, name: str, payload: TemplateCreateIn
) -> Status[dict[str, Any]]:
    user = api_user(request)
    _template(name)
    row, _plan = router_create_from_template(
        owner=user,
        template=name,
        slug=payload.slug,
        name=payload.name.strip(),
        visibility=payload.visibility,
    )
    row = _reload(row.pk, user)
    return Status(201, {**_router_out(row, user), "rules": [_rule_out(r) for r in _rules(row)]})


@router.get("", response=list[RouterOut], summary="Routers you may use")
def list_routers(request: HttpRequest) -> list[dict[str, Any]]:
    user = api_user(request)
    return [_router_out(r, user) for r in router_list_usable_by(user=user).order_by("name", "id")]


@router.post("", response={201: RouterDetailOut, **ERRORS}, summary="Create a router")
def create_router(request: HttpRequest, payload: RouterIn) -> Status[dict[str, Any]]:
    user = api_user(request)
    row = services.router_create(owner=user, actor=user, **payload.dict())
    return Status(201, {**_router_out(_reload(row.pk, user), user), "rules": []})


@router.get(
    "/{int:router_id}", response={200: RouterDetailOut, **ERRORS}, summary="A router with its rules"
)
def get_router(request: HttpRequest, router_id: int) -> dict[str, Any]:
    row = router_for(request, router_id)
    return {**_router_out(row, api_user(request)), "rules": [_rule_out(r) for r in _rules(row)]}


@router.patch(
    "/{int:router_id}", response={200: RouterDetailOut, **ERRORS}, summary="Change a router"
)
def update_router(request: HttpRequest, router_id: int, payload: RouterPatch) -> dict[str, Any]:
    row = router_for(request, router_id, edit=True)
    services.router_update(router=row, actor=api_user(request), **payload.dict(exclude_unset=True))
    user = api_user(request)
    row = _reload(row.pk, user)
    return {**_router_out(row, user), "rules": [_rule_out(r) for r in _rules(row)]}


@router.put(
    "/{int:router_id}/failover-policy",
    response={200: RouterDetailOut, **ERRORS},
    summary="Set a router's failure-policy overrides",
)
def set_failover_policy(
    request: HttpRequest, router_id: int, payload: FailoverPolicyIn
) -> dict[str, Any]:
    row = router_for(request, router_id, edit=True)
    services.router_set_failover_policy(
        router=row, overrides=payload.dict(exclude_none=True), actor=api_user(request)
    )
    user = api_user(request)
    row = _reload(row.pk, user)
    return {**_router_out(row, user), "rules": [_rule_out(r) for r in _rules(row)]}


@router.put(
    "/{int:router_id}/tiers",
    response={200: RouterDetailOut, **ERRORS},
    summary="Set a router's tiers, default tier and escalation",
)
def set_tiers(request: HttpRequest, router_id: int, payload: TiersIn) -> dict[str, Any]:
    row = router_for(request, router_id, edit=True)
    data = payload.dict(exclude_unset=True)
    services.router_set_tiers(
        router=row,
        tiers=[t.dict() for t in payload.tiers],
        default_tier=data.get("default_tier", services.KEEP),
        escalation=data.get("escalation", services.KEEP),
        actor=api_user(request),
    )
    user = api_user(request)
    row = _reload(row.pk, user)
    return {**_router_out(row, user), "rules": [_rule_out(r) for r in _rules(row)]}


@router.put(
    "/{int:router_id}/categories",
    response={200: RouterDetailOut, **ERRORS},
    summary="Set the task categories the classifier chooses from",
)
def set_categories(request: HttpRequest, router_id: int, payload: CategoriesIn) -> dict[str, Any]:
    row = router_for(request, router_id, edit=True)
    services.router_set_categories(
        router=row, categories=payload.categories, actor=api_user(request)
    )
    user = api_user(request)
    row = _reload(row.pk, user)
    return {**_router_out(row, user), "rules": [_rule_out(r) for r in _rules(row)]}


@router.delete("/{int:router_id}", response={204: None, **ERRORS}, summary="Delete a router")
def delete_router(request: HttpRequest, router_id: int) -> Status[None]:
    services.router_delete(
        router=router_for(request, router_id, edit=True), actor=api_user(request)
    )
    return Status(204, None)


@router.get(
    "/{int:router_id}/export",
    response={200: dict[str, Any], **ERRORS},
    summary="Export as a router file",
)
def export_router(request: HttpRequest, router_id: int) -> dict[str, Any]:
    return services.router_export(router=router_for(request, router_id))


@router.post("/import", response={201: RouterDetailOut, **ERRORS}, summary="Import a router file")
def import_router(request: HttpRequest, payload: Body[dict[str, Any]]) -> Status[dict[str, Any]]:
    user = api_user(request)
    row = _reload(services.router_import(owner=user, data=payload).pk, user)
    return Status(201, {**_router_out(row, user), "rules": [_rule_out(r) for r in _rules(row)]})


@router.put(
    "/{int:router_id}/draft",
    response={200: RouterDetailOut, **ERRORS},
    summary="Replace the draft with a router file",
    description="The file's routing settings and rules become the draft (name, slug, "
    "description and visibility stay); rules with the same name keep their ids. Traffic keeps "
    "the published version until the draft is published. A bad file changes nothing (422).",
)
def import_draft(
    request: HttpRequest, router_id: int, payload: Body[dict[str, Any]]
) -> dict[str, Any]:
    user = api_user(request)
    row = router_for(request, router_id, edit=True)
    services.router_draft_import(router=row, data=payload, actor=user)
    row = _reload(row.pk, user)
    return {**_router_out(row, user), "rules": [_rule_out(r) for r in _rules(row)]}


# --- rules ---------------------------------------------------------------------------------


@router.get(
    "/{int:router_id}/rules", response={200: list[RuleOut], **ERRORS}, summary="Rules, in order"
)
def list_rules(request: HttpRequest, router_id: int) -> list[dict[str, Any]]:
    return [_rule_out(r) for r in _rules(router_for(request, router_id))]


@router.post(
    "/{int:router_id}/rules", response={201: RuleOut, **ERRORS}, summary="Add a rule at the end"
)
def create_rule(request: HttpRequest, router_id: int, payload: RuleIn) -> Status[dict[str, Any]]:
    row = router_for(request, router_id, edit=True)
    data = payload.dict()
    rule = services.rule_create(router=row, actor=api_user(request), **data)
    return Status(201, _rule_out(rule))


@router.get(
    "/{int:router_id}/rules/{int:rule_id}", response={200: RuleOut, **ERRORS}, summary="A rule"
)
def get_rule(request: HttpRequest, router_id: int, rule_id: int) -> dict[str, Any]:
    return _rule_out(_rule_for(router=router_for(request, router_id), pk=rule_id))


@router.patch(
    "/{int:router_id}/rules/{int:rule_id}",
    response={200: RuleOut, **ERRORS},
    summary="Change a rule",
)
def update_rule(
    request: HttpRequest, router_id: int, rule_id: int, payload: RulePatch
) -> dict[str, Any]:
    rule = _rule_for(router=router_for(request, router_id, edit=True), pk=rule_id)
    return _rule_out(
        services.rule_update(rule=rule, actor=api_user(request), **payload.dict(exclude_unset=True))
    )


@router.delete(
    "/{int:router_id}/rules/{int:rule_id}", response={204: None, **ERRORS}, summary="Delete a rule"
)
def delete_rule(request: HttpRequest, router_id: int, rule_id: int) -> Status[None]:
    services.rule_delete(
        rule=_rule_for(router=router_for(request, router_id, edit=True), pk=rule_id),
        actor=api_user(request),
    )
    return Status(204, None)


@router.post(
    "/{int:router_id}/rules/{int:rule_id}/enable",
    response={200: RuleOut, **ERRORS},
    summary="Enable a rule",
)
def enable_rule(request: HttpRequest, router_id: int, rule_id: int) -> dict[str, Any]:
    rule = _rule_for(router=router_for(request, router_id, edit=True), pk=rule_id)
    return _rule_out(services.rule_set_enabled(rule=rule, enabled=True, actor=api_user(request)))


@router.post(
    "/{int:router_id}/rules/{int:rule_id}/disable",
    response={200: RuleOut, **ERRORS},
    summary="Disable a rule",
)
def disable_rule(request: HttpRequest, router_id: int, rule_id: int) -> dict[str, Any]:
    rule = _rule_for(router=router_for(request, router_id, edit=True), pk=rule_id)
    return _rule_out(services.rule_set_enabled(rule=rule, enabled=False, actor=api_user(request)))


@router.put(
    "/{int:router_id}/rules/order",
    response={200: list[RuleOut], **ERRORS},
    summary="Reorder the rules",
)
def reorder_rules(request: HttpRequest, router_id: int, payload: ReorderIn) -> list[dict[str, Any]]:
    row = router_for(request, router_id, edit=True)
    services.router_reorder(router=row, rule_ids=payload.rule_ids, actor=api_user(request))
    return [_rule_out(r) for r in _rules(row)]


# --- versions ------------------------------------------------------------------------------


class VersionOut(Schema):
    number: int
    published_at: datetime
    published_by: str | None
    restored_from: int | None = Field(description="A rollback: the version it published again")
    note: str
    live: bool = Field(description="Traffic routes with this version")


class VersionDetailOut(VersionOut):
    snapshot: dict[str, Any] = Field(
        description="The router file (export format) of this version, each rule with its id"
    )


class PublishIn(In):
    note: str = Field("", max_length=200, description="What changed, for the version list")


class DiffOut(Schema):
    old: str
    new: str
    settings: list[dict[str, Any]]
    rules_added: list[str]
    rules_removed: list[str]
    rules_changed: list[dict[str, Any]]
    reordered: bool
    order_before: list[str]
    order_after: list[str]


def _version_out(version: RouterVersion, row: RouterRow, *, detail: bool = False) -> dict[str, Any]:
    out = {
        "number": version.number,
        "published_at": version.published_at,
        "published_by": version.published_by.username if version.published_by else None,
        "restored_from": version.restored_from,
        "note": version.note,
        "live": version.pk == row.published_version_id,
    }
    if detail:
        out["snapshot"] = version.snapshot
    return out


def version_for(row: RouterRow, number: int) -> RouterVersion:
    version = version_get(router=row, number=number) if 0 < number <= MAX_ID else None
    if version is None:
        raise Http404(f"This router has no version {number}.")
    return version


@router.get(
    "/{int:router_id}/versions",
    response={200: list[VersionOut], **ERRORS},
    summary="Published versions of a router, newest first",
)
def list_versions(request: HttpRequest, router_id: int) -> list[dict[str, Any]]:
    row = router_for(request, router_id)
    return [_version_out(v, row) for v in version_list(router=row)]


@router.get(
    "/{int:router_id}/versions/{int:number}",
    response={200: VersionDetailOut, **ERRORS},
    summary="One published version, with its snapshot",
)
def get_version(request: HttpRequest, router_id: int, number: int) -> dict[str, Any]:
    row = router_for(request, router_id)
    return _version_out(version_for(row, number), row, detail=True)


@router.post(
    "/{int:router_id}/publish",
    response={201: VersionOut, **ERRORS},
    summary="Publish the draft",
    description="The draft becomes the next version and traffic (chat, /v1, previews) routes "
    "with it from the next message. 422 when the draft routes exactly like the published "
    "version or does not compile.",
)
def publish(request: HttpRequest, router_id: int, payload: PublishIn) -> Status[dict[str, Any]]:
    row = router_for(request, router_id, edit=True)
    version = router_publish(router=row, actor=api_user(request), note=payload.note)
    return Status(201, _version_out(version, _reload(row.pk, api_user(request))))


@router.post(
    "/{int:router_id}/versions/{int:number}/rollback",
    response={201: VersionOut, **ERRORS},
    summary="Publish an old version again",
    description="Publishes version `number`'s snapshot as a new version; the draft is kept.",
)
def rollback(request: HttpRequest, router_id: int, number: int) -> Status[dict[str, Any]]:
    row = router_for(request, router_id, edit=True)
    version_for(row, number)
    version = router_rollback(router=row, number=number, actor=api_user(request))
    return Status(201, _version_out(version, _reload(row.pk, api_user(request))))


VersionRef = Annotated[str, Field(pattern=r"^(draft|live|[1-9][0-9]{0,17})$")]


@router.get(
    "/{int:router_id}/diff",
    response={200: DiffOut, **ERRORS},
    summary="Compare two versions (or a version and the draft)",
    description="`old` and `new` are a version number, `live` (the published version) or "
    "`draft`. Defaults: what publishing the draft would change.",
)
def diff(
    request: HttpRequest, router_id: int, old: VersionRef = "live", new: VersionRef = "draft"
) -> dict[str, Any]:
    row = router_for(request, router_id)
    before = _snapshot_for(row, old)
    after = _snapshot_for(row, new)
    return {"old": old, "new": new, **snapshot_diff(before, after).to_dict()}


def _snapshot_for(row: RouterRow, ref: str) -> dict[str, Any]:
    if ref == "draft":
        return services.router_snapshot(router=row)
    if ref == "live":
        if row.published_version is None:
            raise Http404("This router has never been published.")
        return row.published_version.snapshot
    return version_for(row, int(ref)).snapshot
