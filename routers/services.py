"""Writes for routers and rules.

Every change to a router or its rules bumps `Router.version` by one, in the same
transaction, with `F("version") + 1`: compiled routers and classifier verdicts are cached
per (router id, version), so a missed bump would serve a stale router, and two concurrent
edits must not both write the same next version.

Validation errors are `django.core.exceptions.ValidationError`s keyed by the argument's
name (`slug`, `conditions`, `target_model`, …), so forms show them next to the field.
Model references are "provider/model-id" strings (or catalog rows) and must name a model
of the enabled catalog.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User
from audit.services import audit_record, snapshot
from engine import Problem, router_problems, rule_problems
from engine.profiles import check_families
from engine.semantic import validate_examples
from engine.validation import (
    category_problems,
    example_size_problems,
    size_problems,
    tier_problems,
)
from providers.failover import clean_overrides
from providers.models import CatalogModel
from providers.selectors import catalog_get_by_ref
from routers import config_version
from routers.compiling import profiles_defined
from routers.models import MatchMode, Router, RouterVersion, Rule, RuleKind, Visibility
from routers.schemas import (
    DEFAULT_EMBEDDING_MODEL,
    FORMAT,
    FORMAT_VERSION,
    ImportProblems,
    categories_of,
    engine_problems,
    for_people,
    parse_document,
    parse_text,
    tier_specs_of,
)

ModelRef = CatalogModel | str

_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")


class _Keep:
    """Marks an argument of an update that was not given: the stored value stays."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


class _Errors:
    """Collects field-keyed messages so a form shows every problem at once, not the first."""

    def __init__(self) -> None:
        self.by_field: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.by_field.setdefault(field, []).append(message)

    def add_problems(self, problems: Sequence[Problem]) -> None:
        """The engine's problems, keyed by their location (`conditions[0].value`), words kept."""
        for problem in problems:
            self.add(problem.location or "__all__", problem.message)

    def raise_if_any(self) -> None:
        if self.by_field:
            raise ValidationError(self.by_field)


_ROUTER_AUDIT_FIELDS = [
    "name",
    "slug",
    "description",
    "visibility",
    "fallbacks",
    "sticky",
    "cooldown_minutes",
    "time_zone",
    "failover_policy",
    "embedding_model",
    "preferred_families",
    "tiers",
    "default_tier",
    "escalation",
    "categories",
]
_RULE_AUDIT_FIELDS = [
    "name",
    "enabled",
    "position",
    "kind",
    "match",
    "conditions",
    "description",
    "fallbacks",
    "examples",
    "threshold",
    "margin",
    "target_profile",
]


def _router_state(router: Router) -> dict[str, Any]:
    state = snapshot(router, _ROUTER_AUDIT_FIELDS)
    state["primary_model"] = router.primary_model.ref if router.primary_model_id else None
    state["classifier_model"] = (
        router.classifier_model.ref if router.classifier_model is not None else None
    )
    return state


def _rule_state(rule: Rule) -> dict[str, Any]:
    state = snapshot(rule, _RULE_AUDIT_FIELDS)
    state["target_model"] = rule.target_model.ref if rule.target_model is not None else None
    state["target_tier"] = rule.target_tier
    return state


def _audit(
    actor: User, action: str, obj: Any, before: dict | None, after: dict | None, **extra: Any
) -> None:
    if isinstance(obj, Rule):
        extra.setdefault("object_repr", f"{obj.router.name} › {obj.name}")
    audit_record(actor=actor, action=action, obj=obj, before=before, after=after, **extra)


def _bump_version(router: Router) -> None:
    Router.objects.filter(pk=router.pk).update(version=F("version") + 1, updated_at=timezone.now())
    router.refresh_from_db(fields=["version", "updated_at"])
    config_version.bump()  # a queryset update sends no post_save


def _ref_text(value: ModelRef) -> str:
    return value.ref if isinstance(value, CatalogModel) else str(value).strip()


def unknown_model(ref: str) -> str:
    """The words for a well-formed ref that is not in the enabled catalog (every surface)."""
    return f"Unknown model '{ref}': it is not in the enabled catalog."


def _resolve_model(value: ModelRef | None, field: str, errors: _Errors) -> CatalogModel | None:
    """The catalog row of a ref the engine found well formed (else None, problem recorded)."""
    if value is None or value == "" or field in errors.by_field:
        return None
    ref = _ref_text(value)
    model = catalog_get_by_ref(ref)
    if model is None:
        errors.add(field, unknown_model(ref))
    return model


def _resolve_chain(refs: Sequence[str], field: str, errors: _Errors) -> list[str]:
    chain: list[str] = []
    if any(key == field or key.startswith(f"{field}[") for key in errors.by_field):
        return chain
    for i, ref in enumerate(refs):
        if catalog_get_by_ref(ref) is None:
            errors.add(f"{field}[{i}]", unknown_model(ref))
        elif ref not in chain:
            chain.append(ref)
    return chain


def _check_slug(slug: str, errors: _Errors, *, owner_id: int, exclude_pk: int | None = None) -> str:
    slug = slug.strip()
    if not slug:
        errors.add("slug", "Enter a slug (letters, digits, - and _).")
    elif len(slug) > 60 or not _SLUG.match(slug):
        errors.add("slug", "Use at most 60 letters, digits, hyphens or underscores.")
    else:
        problem = _slug_clash(slug, owner_id=owner_id, exclude_pk=exclude_pk)
        if problem:
            errors.add("slug", problem)
    return slug


def _slug_clash(slug: str, *, owner_id: int, exclude_pk: int | None) -> str:
    """Why `slug` cannot be used by this owner, or "". Slugs are unique among one owner's
    routers and among shared routers; someone else's private router never blocks a slug, so
    the answer can never reveal that it exists."""
    # exclude(pk=None) excludes nothing (a pk is never NULL); django-stubs refuses None there.
    others = Router.objects.filter(slug=slug).exclude(pk=exclude_pk)  # type: ignore[misc]
    if others.filter(owner_id=owner_id).exists():
        return f"The slug '{slug}' is already used by another of your routers."
    if others.filter(visibility=Visibility.SHARED).exists():
        return f"The slug '{slug}' is already used by a shared router."
    return ""


def _router_fields(
    *,
    router: Router | None,
    owner_id: int,
    name: str,
    slug: str,
    description: str,
    visibility: str,
    primary_model: ModelRef,
    classifier_model: ModelRef | None,
    fallbacks: Sequence[ModelRef],
    sticky: bool,
    cooldown_minutes: int,
    time_zone: str,
    embedding_model: str = DEFAULT_EMBEDDING_MODEL,
    preferred_families: Sequence[str] = (),
) -> dict[str, Any]:
    errors = _Errors()
    name = (name or "").strip()
    description = (description or "").strip()
    zone = (time_zone or "").strip()
    embedding_model = (embedding_model or "").strip() or DEFAULT_EMBEDDING_MODEL
    refs = [r for r in (_ref_text(v) for v in fallbacks) if r]
    errors.add_problems(
        router_problems(
            {
                "name": name,
                "description": description,
                "primary_model": _ref_text(primary_model) if primary_model else "",
                "classifier_model": _ref_text(classifier_model) if classifier_model else None,
                "fallbacks": refs,
                "cooldown_minutes": cooldown_minutes,
                "time_zone": zone,
                "embedding_model": embedding_model,
                "preferred_families": list(preferred_families or ()),
            },
            with_rules=False,
        )
    )
    if not slug and name and router is None:
        slug = slugify(name)[:60]
    slug = _check_slug(
        slug or "", errors, owner_id=owner_id, exclude_pk=router.pk if router else None
    )
    if visibility not in Visibility.values:
        errors.add("visibility", f"Choose one of: {', '.join(Visibility.values)}.")
    elif visibility == Visibility.SHARED and "slug" not in errors.by_field:
        # Sharing needs a slug no other shared router has (shared routers are visible to all).
        clash = Router.objects.filter(slug=slug, visibility=Visibility.SHARED)
        if clash.exclude(pk=router.pk if router else None).exists():  # type: ignore[misc]
            errors.add("slug", f"The slug '{slug}' is already used by a shared router.")
    primary = _resolve_model(primary_model, "primary_model", errors)
    classifier = (
        None
        if classifier_model in (None, "")
        else _resolve_model(classifier_model, "classifier_model", errors)
    )
    chain = _resolve_chain(refs, "fallbacks", errors)
    families: tuple[str, ...] = ()
    if "preferred_families" not in errors.by_field:
        families = check_families(list(preferred_families or ()))
    errors.raise_if_any()
    return {
        "name": name,
        "slug": slug,
        "description": description,
        "visibility": visibility,
        "primary_model": primary,
        "classifier_model": classifier,
        "fallbacks": chain,
        "sticky": bool(sticky),
        "cooldown_minutes": cooldown_minutes,
        "time_zone": zone,
        "embedding_model": embedding_model,
        "preferred_families": list(families),
    }


def router_create(
    *,
    owner: User,
    name: str,
    primary_model: ModelRef,
    slug: str = "",
    description: str = "",
    visibility: str = Visibility.PRIVATE,
    classifier_model: ModelRef | None = None,
    fallbacks: Sequence[ModelRef] = (),
    sticky: bool = False,
    cooldown_minutes: int = 30,
    time_zone: str = "",
    embedding_model: str = DEFAULT_EMBEDDING_MODEL,
    preferred_families: Sequence[str] = (),
    actor: User,
) -> Router:
    """Create a router (version 1). An empty slug is derived from the name; no time zone
    means the instance's (settings.TIME_ZONE)."""
    fields = _router_fields(
        router=None,
        owner_id=owner.pk,
        name=name,
        slug=slug,
        description=description,
        visibility=visibility,
        primary_model=primary_model,
        classifier_model=classifier_model,
        fallbacks=fallbacks,
        sticky=sticky,
        cooldown_minutes=cooldown_minutes,
        time_zone=time_zone or settings.TIME_ZONE,
        embedding_model=embedding_model,
        preferred_families=preferred_families,
    )
    with transaction.atomic():
        router = Router.objects.create(owner=owner, **fields)
        # No traffic to protect yet: what is created is published as v1 at once.
        publish_version(
            router=router, snapshot=router_snapshot(router=router), actor=actor, note="Created."
        )
        _audit(actor, "router.create", router, None, _router_state(router))
    return router


def router_update(
    *,
    router: Router,
    name: str = KEEP,
    slug: str = KEEP,
    description: str = KEEP,
    visibility: str = KEEP,
    primary_model: ModelRef = KEEP,
    classifier_model: ModelRef | None = KEEP,
    fallbacks: Sequence[ModelRef] = KEEP,
    sticky: bool = KEEP,
    cooldown_minutes: int = KEEP,
    time_zone: str = KEEP,
    embedding_model: str = KEEP,
    preferred_families: Sequence[str] = KEEP,
    actor: User,
) -> Router:
    """Change the given settings (the others stay) and bump the version."""
    before = _router_state(router)

    def pick(value: Any, current: Any) -> Any:
        return current if value is KEEP else value

    fields = _router_fields(
        router=router,
        owner_id=router.owner_id,
        name=pick(name, router.name),
        slug=pick(slug, router.slug),
        description=pick(description, router.description),
        visibility=pick(visibility, router.visibility),
        primary_model=pick(primary_model, router.primary_model),
        classifier_model=pick(classifier_model, router.classifier_model),
        fallbacks=pick(fallbacks, router.fallbacks),
        sticky=pick(sticky, router.sticky),
        cooldown_minutes=pick(cooldown_minutes, router.cooldown_minutes),
        time_zone=pick(time_zone, router.time_zone),
        embedding_model=pick(embedding_model, router.embedding_model),
        preferred_families=pick(preferred_families, router.preferred_families),
    )
    with transaction.atomic():
        for key, value in fields.items():
            setattr(router, key, value)
        router.version = F("version") + 1
        router.save()
        router.refresh_from_db(fields=["version", "updated_at"])
        _audit(actor, "router.update", router, before, _router_state(router))
    return router


def router_set_failover_policy(*, router: Router, overrides: dict[str, Any], actor: User) -> Router:
    """Replace the router's failure-policy overrides (empty values: the site's default) and
    bump the version. Raises ValidationError with every bad field; nothing changes then."""
    clean, problems = clean_overrides(overrides)
    if problems:
        raise ValidationError(problems)
    before = _router_state(router)
    with transaction.atomic():
        router.failover_policy = clean
        router.version = F("version") + 1
        router.save(update_fields=["failover_policy", "version", "updated_at"])
        router.refresh_from_db(fields=["version", "updated_at"])
        _audit(actor, "router.update", router, before, _router_state(router))
    return router


def router_set_tiers(
    *,
    router: Router,
    tiers: Sequence[dict[str, Any]],
    default_tier: str = KEEP,
    escalation: bool = KEEP,
    actor: User,
) -> Router:
    """Replace the router's tiers (in order), and optionally its default tier and escalation
    switch; bump the version. A tier is {"name", "model" ("provider/model-id" or "" for
    unset), "fallback" (a tier or ""), "description"}; a row may say `"was": "<old name>"`
    to rename a tier, and the rules (and workspaces) that use it follow. Raises
    ValidationError (field "tiers" or "default_tier") and changes nothing on a problem."""
    errors = _Errors()
    rows: list[dict[str, str]] = []
    renames: dict[str, str] = {}
    for number, raw in enumerate(tiers, start=1):
        if not isinstance(raw, dict):
            errors.add("tiers", f"Tier {number}: expected an object with a name.")
            continue
        row = {
            key: str(raw.get(key) or "").strip()
            for key in ("name", "model", "fallback", "description")
        }
        if len(row["description"]) > 200:
            errors.add("tiers", f"Tier {number}: describe it in at most 200 characters.")
        if row["model"] and catalog_get_by_ref(row["model"]) is None:
            errors.add(
                "tiers",
                f"Tier '{row['name']}': unknown model '{row['model']}': it is not in the "
                "enabled catalog.",
            )
        was = str(raw.get("was") or "").strip()
        if was and was != row["name"]:
            renames[was] = row["name"]
        rows.append(row)
    # A renamed tier's fallbacks follow it too.
    for row in rows:
        row["fallback"] = renames.get(row["fallback"], row["fallback"])
    default = router.default_tier if default_tier is KEEP else (default_tier or "").strip()
    default = renames.get(default, default)
    problems, _ = tier_problems(rows, default)
    errors.add_problems(problems)
    names = {r["name"] for r in rows}
    for rule in router.rules.exclude(target_tier=""):
        wanted = renames.get(rule.target_tier, rule.target_tier)
        if wanted not in names:
            errors.add(
                "tiers",
                f"Rule “{rule.name}” sends to the tier '{rule.target_tier}': send it elsewhere "
                "before removing the tier.",
            )
    errors.raise_if_any()
    before = _router_state(router)
    with transaction.atomic():
        for old, new in renames.items():
            router.rules.filter(target_tier=old).update(target_tier=new)
            # Through the reverse relation: the chat app sits above this one.
            router.workspaces.filter(tier=old).update(tier=new)
        router.tiers = rows
        router.default_tier = default
        if escalation is not KEEP:
            router.escalation = bool(escalation)
        router.version = F("version") + 1
        router.save(update_fields=["tiers", "default_tier", "escalation", "version", "updated_at"])
        router.refresh_from_db(fields=["version", "updated_at"])
        _audit(actor, "router.update", router, before, _router_state(router))
    return router


def router_set_categories(*, router: Router, categories: Sequence[str], actor: User) -> Router:
    """Replace the task categories the classifier chooses from; bump the version. A category
    a rule still tests cannot be removed (ValidationError on "categories")."""
    errors = _Errors()
    cleaned = [str(c).strip().lower() for c in categories if str(c).strip()]
    problems, known = category_problems(cleaned)
    errors.add_problems(problems)
    cleaned = known if known is not None else cleaned
    for rule in router.rules.all():
        for condition in rule.conditions or ():
            if not isinstance(condition, dict) or condition.get("property") != "category":
                continue
            value = condition.get("value")
            for item in [value] if isinstance(value, str) else list(value or ()):
                if isinstance(item, str) and item.strip().lower() not in cleaned:
                    errors.add(
                        "categories",
                        f"Rule “{rule.name}” tests the category '{item}': change it before "
                        "removing the category.",
                    )
    errors.raise_if_any()
    before = _router_state(router)
    with transaction.atomic():
        router.categories = cleaned
        router.version = F("version") + 1
        router.save(update_fields=["categories", "version", "updated_at"])
        router.refresh_from_db(fields=["version", "updated_at"])
        _audit(actor, "router.update", router, before, _router_state(router))
    return router


@transaction.atomic
def router_delete(*, router: Router, actor: User) -> list[int]:
    """Delete the router. Workspaces that used it go on answering with its primary model (the
    workspace's foreign key says so in its `on_delete`); returns their ids for the audit entry
    and the confirmation."""
    # The reverse relation reads the rows that point here without importing the chat app.
    switched = list(router.workspaces.select_for_update().values_list("pk", flat=True))
    before = _router_state(router)
    _audit(actor, "router.delete", router, before, {"workspaces_moved_to_primary": switched})
    router.delete()
    return switched


# --- rules ---------------------------------------------------------------------------------


def _rule_fields(
    *,
    router: Router,
    target_tier: str = "",
    name: str,
    kind: str,
    match: str,
    conditions: Sequence[dict[str, Any]],
    description: str,
    target_model: ModelRef | None,
    fallbacks: Sequence[ModelRef],
    examples: Sequence[str] = (),
    threshold: float = 0.7,
    margin: float | None = None,
    target_profile: str = "",
) -> dict[str, Any]:
    errors = _Errors()
    name = (name or "").strip()
    conditions = [dict(c) for c in conditions]
    description = (description or "").strip()
    refs = [r for r in (_ref_text(v) for v in fallbacks) if r]
    profile = (target_profile or "").strip().lower()
    target_tier = (target_tier or "").strip()
    errors.add_problems(
        rule_problems(
            {
                "name": name,
                "kind": kind,
                "match": match,
                "conditions": conditions,
                "description": description,
                "target_model": _ref_text(target_model) if target_model else "",
                "target_tier": target_tier,
                "target_profile": profile,
                "fallbacks": refs,
                "examples": list(examples or ()),
                "threshold": threshold,
                "margin": margin,
            },
            tiers=[str(t.get("name")) for t in router.tiers or () if isinstance(t, dict)],
            categories=list(router.categories or ()),
        )
    )
    target: CatalogModel | None = None
    if profile and target_tier:
        pass  # refused by `rule_problems`
    elif profile:
        # A profile targets the catalog's best models for it; the model target is not used.
        known = profiles_defined()
        if "target_profile" not in errors.by_field and profile not in known:
            errors.add(
                "target_profile",
                f"Unknown profile '{profile}' (defined: {', '.join(sorted(known))}).",
            )
    elif target_tier:
        pass  # one of the router's tiers: checked by `rule_problems`
    else:
        target = _resolve_model(target_model, "target_model", errors)
    chain = _resolve_chain(refs, "fallbacks", errors)
    errors.raise_if_any()
    cleaned_examples = (
        list(validate_examples(list(examples or ())))
        if kind == RuleKind.SEMANTIC
        else list(examples or ())
    )
    return {
        "name": name,
        "kind": kind,
        "match": match,
        "conditions": conditions,
        "description": description,
        "target_model": target,
        "target_profile": profile,
        "target_tier": target_tier,
        "fallbacks": chain,
        "examples": cleaned_examples,
        "threshold": float(threshold),
        "margin": None if margin is None else float(margin),
    }


def _check_router_size(
    router: Router, conditions: Sequence[Any], examples: Sequence[str], *, replacing: int | None
) -> None:
    """Refuse a rule that would take the router over its limits (count of rules, keywords,
    regexes and semantic examples in all). `replacing` is the id of the rule being edited."""
    others = router.rules.exclude(pk=replacing) if replacing else router.rules.all()
    stored = list(others.values_list("conditions", "examples"))
    errors = _Errors()
    errors.add_problems(size_problems([*(list(c or []) for c, _ in stored), list(conditions)]))
    errors.add_problems(example_size_problems([*(e or [] for _, e in stored), list(examples)]))
    errors.raise_if_any()


def rule_create(
    *,
    router: Router,
    name: str,
    kind: str,
    target_model: ModelRef | None = None,
    target_tier: str = "",
    match: str = MatchMode.ALL,
    conditions: Sequence[dict[str, Any]] = (),
    description: str = "",
    fallbacks: Sequence[ModelRef] = (),
    enabled: bool = True,
    examples: Sequence[str] = (),
    threshold: float = 0.7,
    margin: float | None = None,
    target_profile: str = "",
    actor: User,
) -> Rule:
    """Add a rule at the end of the router's list. It sends to `target_model`, or to the
    router's tier `target_tier`, or to the profile `target_profile` (one of the three)."""
    fields = _rule_fields(
        router=router,
        target_tier=target_tier,
        name=name,
        kind=kind,
        match=match,
        conditions=conditions,
        description=description,
        target_model=target_model,
        fallbacks=fallbacks,
        examples=examples,
        threshold=threshold,
        margin=margin,
        target_profile=target_profile,
    )
    with transaction.atomic():
        # Lock the router row so two concurrent adds cannot take the same position (or
        # together pass the router's limits).
        Router.objects.select_for_update().filter(pk=router.pk).first()
        _check_router_size(router, fields["conditions"], fields["examples"], replacing=None)
        last = router.rules.aggregate(m=Max("position"))["m"]
        rule = Rule.objects.create(
            router=router, enabled=enabled, position=0 if last is None else last + 1, **fields
        )
        _bump_version(router)
        _audit(actor, "rule.create", rule, None, _rule_state(rule))
    return rule


def rule_update(
    *,
    rule: Rule,
    name: str = KEEP,
    kind: str = KEEP,
    match: str = KEEP,
    conditions: Sequence[dict[str, Any]] = KEEP,
    description: str = KEEP,
    target_model: ModelRef | None = KEEP,
    target_tier: str = KEEP,
    fallbacks: Sequence[ModelRef] = KEEP,
    examples: Sequence[str] = KEEP,
    threshold: float = KEEP,
    margin: float | None = KEEP,
    target_profile: str = KEEP,
    actor: User,
) -> Rule:
    """Change the given fields. Giving a `target_model` alone retargets the rule to that
    model (away from its tier); giving `target_tier` retargets it to that tier."""

    def pick(value: Any, current: Any) -> Any:
        return current if value is KEEP else value

    # The target given replaces the others: a model alone, a tier, or a profile.
    if target_model is not KEEP and target_profile is KEEP:
        target_profile = ""
    if target_tier is KEEP:
        retargeted = target_model is not KEEP or target_profile not in (KEEP, "")
        target_tier = "" if retargeted else rule.target_tier
    elif target_tier and target_profile is KEEP:
        target_profile = ""
    before = _rule_state(rule)
    fields = _rule_fields(
        router=rule.router,
        target_tier=target_tier,
        name=pick(name, rule.name),
        kind=pick(kind, rule.kind),
        match=pick(match, rule.match),
        conditions=pick(conditions, rule.conditions),
        description=pick(description, rule.description),
        target_model=pick(target_model, rule.target_model),
        fallbacks=pick(fallbacks, rule.fallbacks),
        examples=pick(examples, rule.examples),
        threshold=pick(threshold, rule.threshold),
        margin=pick(margin, rule.margin),
        target_profile=pick(target_profile, rule.target_profile),
    )
    with transaction.atomic():
        Router.objects.select_for_update().filter(pk=rule.router_id).first()
        _check_router_size(rule.router, fields["conditions"], fields["examples"], replacing=rule.pk)
        for key, value in fields.items():
            setattr(rule, key, value)
        rule.save()
        _bump_version(rule.router)
        _audit(actor, "rule.update", rule, before, _rule_state(rule))
    return rule


@transaction.atomic
def rule_delete(*, rule: Rule, actor: User) -> None:
    router = rule.router
    _audit(actor, "rule.delete", rule, _rule_state(rule), None)
    rule.delete()
    _bump_version(router)


@transaction.atomic
def rule_set_enabled(*, rule: Rule, enabled: bool, actor: User) -> Rule:
    if rule.enabled != enabled:
        rule.enabled = enabled
        rule.save(update_fields=["enabled"])
        _bump_version(rule.router)
        _audit(
            actor,
            "rule.enable" if enabled else "rule.disable",
            rule,
            {"enabled": not enabled},
            {"enabled": enabled},
        )
    return rule


@transaction.atomic
def router_reorder(*, router: Router, rule_ids: Sequence[int | str], actor: User) -> None:
    """Put the router's rules in this order. The ids must be exactly the router's rules,
    each once: a partial or foreign list is refused whole, so a stale page or a guessed id
    can neither drop a rule from the order nor move another router's rule."""
    rules = {r.pk: r for r in Rule.objects.select_for_update().filter(router=router)}
    try:
        wanted = [int(i) for i in rule_ids]
    except (TypeError, ValueError):
        raise ValidationError({"rule_ids": "Rule ids must be whole numbers."}) from None
    if len(wanted) != len(set(wanted)):
        raise ValidationError({"rule_ids": "A rule appears twice in the new order."})
    if set(wanted) != set(rules):
        unknown = sorted(set(wanted) - set(rules))
        missing = sorted(set(rules) - set(wanted))
        parts = []
        if unknown:
            parts.append(f"not rules of this router: {', '.join(map(str, unknown))}")
        if missing:
            parts.append(f"missing: {', '.join(map(str, missing))}")
        raise ValidationError(
            {
                "rule_ids": f"The new order must list each rule of this router exactly once ({'; '.join(parts)}). "
                "Reload the page and try again."
            }
        )
    before_order = [r.name for r in sorted(rules.values(), key=lambda r: (r.position, r.pk))]
    changed = []
    for position, pk in enumerate(wanted):
        rule = rules[pk]
        if rule.position != position:
            rule.position = position
            changed.append(rule)
    Rule.objects.bulk_update(changed, ["position"])
    _bump_version(router)
    _audit(
        actor,
        "router.reorder",
        router,
        {"order": before_order},
        {"order": [rules[pk].name for pk in wanted]},
    )


# --- profiles ------------------------------------------------------------------------------


def profile_changed(*, names: set[str]) -> int:
    """A profile was defined, changed or deleted. Profiles are instance settings like the
    catalog (not part of a router's versions): the compiled-router cache keys on their
    definitions, and the routing configuration version is replaced so the /v1 gateway reads
    afresh. Returns how many routers have rules targeting one of these names."""
    config_version.bump()
    return Router.objects.filter(rules__target_profile__in=names).distinct().count()


# --- import / export -------------------------------------------------------------------------


def router_export(*, router: Router) -> dict[str, Any]:
    """The router as a version-1 file (see routers/schemas.py), JSON-ready."""
    rules = router.rules.select_related("target_model__provider").order_by("position", "id")
    # Not validated on the way out: a row stored before today's rules (a name with a line
    # break, say) still exports, and the file's import then says what to fix.
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "router": {
            "name": router.name,
            "slug": router.slug,
            "description": router.description,
            "visibility": router.visibility,
            "primary_model": router.primary_model.ref,
            "classifier_model": (
                router.classifier_model.ref if router.classifier_model is not None else None
            ),
            "fallbacks": list(router.fallbacks or []),
            "sticky": router.sticky,
            "cooldown_minutes": router.cooldown_minutes,
            "time_zone": router.time_zone,
            # Written only when not the default, so files without semantic rules stay as before.
            **(
                {"embedding_model": router.embedding_model}
                if router.embedding_model != DEFAULT_EMBEDDING_MODEL
                else {}
            ),
            # Likewise only when the router overrides the failure policy.
            **({"failover_policy": dict(router.failover_policy)} if router.failover_policy else {}),
            **(
                {"preferred_families": list(router.preferred_families)}
                if router.preferred_families
                else {}
            ),
            "tiers": [
                {
                    "name": str(t.get("name", "")),
                    "model": str(t.get("model") or ""),
                    "fallback": str(t.get("fallback") or ""),
                    "description": str(t.get("description") or ""),
                }
                for t in router.tiers or ()
                if isinstance(t, dict)
            ],
            "default_tier": router.default_tier,
            "escalation": router.escalation,
            "categories": list(router.categories or ()),
            "rules": [
                {
                    "name": rule.name,
                    "enabled": rule.enabled,
                    "kind": rule.kind,
                    "match": rule.match,
                    "conditions": list(rule.conditions or []),
                    "description": rule.description,
                    # A tier or profile rule names its tier or profile instead of a model.
                    **(
                        {"target_tier": rule.target_tier}
                        if rule.target_tier
                        else {"target_profile": rule.target_profile}
                        if rule.target_profile
                        else {"target_model": rule.target_model.ref if rule.target_model else None}
                    ),
                    "fallbacks": list(rule.fallbacks or []),
                    **(
                        {
                            "examples": list(rule.examples or []),
                            "threshold": rule.threshold,
                            "margin": rule.margin,
                        }
                        if rule.kind == RuleKind.SEMANTIC
                        else {}
                    ),
                }
                for rule in rules
            ],
        },
    }


def router_snapshot(*, router: Router) -> dict[str, Any]:
    """The draft as a version's snapshot: the export document with each rule's id, so a rule
    keeps its identity across versions (routers/versions.py)."""
    document = router_export(router=router)
    ids = list(router.rules.order_by("position", "id").values_list("pk", flat=True))
    for rule, pk in zip(document["router"]["rules"], ids, strict=True):
        rule["id"] = pk
    return document


def publish_version(
    *,
    router: Router,
    snapshot: dict[str, Any],
    actor: User,
    note: str,
    restored_from: int | None = None,
) -> RouterVersion:
    """Store `snapshot` as the router's next version and make it the one traffic uses. The
    caller holds the router's row lock (or has just created the router) and audits."""
    number = (router.versions.aggregate(m=Max("number"))["m"] or 0) + 1
    version = RouterVersion.objects.create(
        router=router,
        number=number,
        snapshot=snapshot,
        published_at=timezone.now(),
        published_by=actor,
        restored_from=restored_from,
        note=(note or "").strip()[:200],
    )
    router.published_version = version
    router.save(update_fields=["published_version", "updated_at"])  # post_save bumps the
    return version  # routing config version: every process's /v1 plans use the new version


def _free_slug(base: str, *, owner_id: int) -> str:
    base = base[:56]
    # Only slugs this owner may know about count: their own and shared ones.
    known = Router.objects.filter(slug__startswith=base).filter(
        Q(owner_id=owner_id) | Q(visibility=Visibility.SHARED)
    )
    taken = set(known.values_list("slug", flat=True))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _checked_import(
    data: dict[str, Any],
) -> tuple[Any, CatalogModel, CatalogModel | None, list[CatalogModel | None], dict[str, Any]]:
    """A router file checked whole: (its router spec, primary, classifier, each rule's target
    model, the failure-policy overrides). Raises ValidationError listing every problem with its
    place in the file; nothing is written."""
    try:
        doc = parse_document(data)
    except ImportProblems as exc:
        raise ValidationError([for_people(p, data) for p in exc.problems]) from None
    spec = doc.router

    # Engine and catalog problems are reported together, so one round fixes the file.
    problems: list[str] = engine_problems(spec)

    def known(ref: str | None, where: str) -> CatalogModel | None:
        if ref is None:
            return None
        model = catalog_get_by_ref(ref)
        if model is None:
            problems.append(f"{where}: {unknown_model(ref)}")
        return model

    primary = known(spec.primary_model, "primary_model")
    classifier = known(spec.classifier_model, "classifier_model")
    for i, ref in enumerate(spec.fallbacks):
        known(ref, f"fallbacks[{i}]")
    targets: list[CatalogModel | None] = []
    defined = profiles_defined()
    tiers = tier_specs_of(spec)
    for tier in tiers:
        if tier.model:
            known(tier.model, f"tiers: tier '{tier.name}'")
    for i, rule in enumerate(spec.rules):
        if rule.target_profile:
            if rule.target_profile not in defined:
                problems.append(
                    f"rules[{i}].target_profile: unknown profile '{rule.target_profile}' "
                    f"(defined here: {', '.join(sorted(defined))})"
                )
            targets.append(None)
            continue
        targets.append(
            None if rule.target_tier else known(rule.target_model, f"rules[{i}].target_model")
        )
        for j, ref in enumerate(rule.fallbacks):
            known(ref, f"rules[{i}].fallbacks[{j}]")
    policy, policy_problems = clean_overrides(spec.failover_policy)
    problems += [f"failover_policy.{key}: {message}" for key, message in policy_problems.items()]
    if problems:
        raise ValidationError([for_people(p, data) for p in problems])

    # Not None: `spec.primary_model` is required, and an unknown ref raised above.
    return spec, cast(CatalogModel, primary), classifier, targets, policy


def router_import(*, owner: User, data: dict[str, Any], slug: str | None = None) -> Router:
    """Create a new router owned by `owner` from an exported file.

    Slug policy: an explicit `slug` that is taken is an error; the file's own slug, when
    taken, gets a numeric suffix (`demo` → `demo-2`), so importing a colleague's export
    always works. A bad file changes nothing; the error lists each problem with its place
    in the file (`rules[2].conditions[0].value: Regex: …`).
    """
    spec, primary, classifier, targets, policy = _checked_import(data)

    if slug:
        errors = _Errors()
        final_slug = _check_slug(slug, errors, owner_id=owner.pk)
        errors.raise_if_any()
    else:
        final_slug = _free_slug(spec.slug or slugify(spec.name)[:56] or "router", owner_id=owner.pk)

    with transaction.atomic():
        router = Router.objects.create(
            owner=owner,
            name=spec.name,
            slug=final_slug,
            description=spec.description,
            visibility=spec.visibility,
            primary_model=primary,
            classifier_model=classifier,
            fallbacks=list(spec.fallbacks),
            sticky=spec.sticky,
            cooldown_minutes=spec.cooldown_minutes,
            time_zone=spec.time_zone,
            embedding_model=spec.embedding_model,
            failover_policy=policy,
            preferred_families=list(spec.preferred_families),
            tiers=[
                {
                    "name": t.name,
                    "model": t.model,
                    "fallback": t.fallback,
                    "description": t.description,
                }
                for t in tier_specs_of(spec)
            ],
            default_tier=spec.default_tier,
            escalation=spec.escalation,
            categories=list(categories_of(spec)),
        )
        Rule.objects.bulk_create(
            Rule(
                router=router,
                name=rule.name,
                enabled=rule.enabled,
                position=position,
                kind=rule.kind,
                match=rule.match,
                # Stored as written, so exporting the import gives back the same file.
                conditions=[c.model_dump() for c in rule.conditions],
                description=rule.description,
                target_model=target,
                target_profile=rule.target_profile or "",
                target_tier=rule.target_tier,
                fallbacks=list(rule.fallbacks),
                examples=list(validate_examples(rule.examples)) if rule.kind == "semantic" else [],
                threshold=rule.threshold,
                margin=rule.margin,
            )
            for position, (rule, target) in enumerate(zip(spec.rules, targets, strict=True))
        )
        publish_version(
            router=router, snapshot=router_snapshot(router=router), actor=owner, note="Imported."
        )
        _audit(
            owner,
            "router.import",
            router,
            None,
            {**_router_state(router), "rules": [r.name for r in spec.rules]},
        )
    return router


def router_draft_import(*, router: Router, data: dict[str, Any], actor: User) -> Router:
    """Replace the router's draft — its routing settings and rules — with a file's. The
    router's identity (name, slug, description, visibility) stays, and traffic keeps the
    published version until the draft is published. A rule of the file with the name of one
    of the draft's keeps that rule's id (so versions, decisions and analytics know it as the
    same rule); the draft's other rules are deleted. A bad file changes nothing."""
    spec, primary, classifier, targets, policy = _checked_import(data)
    with transaction.atomic():
        Router.objects.select_for_update().filter(pk=router.pk).first()
        before = {
            **_router_state(router),
            "rules": list(router.rules.values_list("name", flat=True)),
        }
        router.primary_model = primary
        router.classifier_model = classifier
        router.fallbacks = list(spec.fallbacks)
        router.sticky = spec.sticky
        router.cooldown_minutes = spec.cooldown_minutes
        router.time_zone = spec.time_zone
        router.embedding_model = spec.embedding_model
        router.failover_policy = policy
        router.preferred_families = list(spec.preferred_families)
        router.tiers = [
            {"name": t.name, "model": t.model, "fallback": t.fallback, "description": t.description}
            for t in tier_specs_of(spec)
        ]
        router.default_tier = spec.default_tier
        router.escalation = spec.escalation
        router.categories = list(categories_of(spec))
        router.version = F("version") + 1
        router.save()
        router.refresh_from_db(fields=["version", "updated_at"])
        existing: dict[str, Rule] = {}
        for row in router.rules.order_by("position", "id"):
            existing.setdefault(row.name, row)
        kept: set[int] = set()
        for position, (rule, target) in enumerate(zip(spec.rules, targets, strict=True)):
            found: Rule | None = existing.pop(rule.name, None)
            row = found or Rule(router=router)
            row.name = rule.name
            row.enabled = rule.enabled
            row.position = position
            row.kind = rule.kind
            row.match = rule.match
            row.conditions = [c.model_dump() for c in rule.conditions]
            row.description = rule.description
            row.target_model = target  # None only for a rule that targets a profile or tier
            row.target_profile = rule.target_profile or ""
            row.target_tier = rule.target_tier
            row.fallbacks = list(rule.fallbacks)
            row.examples = list(validate_examples(rule.examples)) if rule.kind == "semantic" else []
            row.threshold = rule.threshold
            row.margin = rule.margin
            row.save()
            kept.add(row.pk)
        router.rules.exclude(pk__in=kept).delete()
        _audit(
            actor,
            "router.import_draft",
            router,
            before,
            {**_router_state(router), "rules": [r.name for r in spec.rules]},
        )
    return router


def router_import_text(*, owner: User, text: str, slug: str | None = None) -> Router:
    """`router_import` from pasted or uploaded JSON text."""
    try:
        data = parse_text(text)
    except ImportProblems as exc:
        raise ValidationError(exc.problems) from None
    return router_import(owner=owner, data=data, slug=slug)
