"""Drafts and published versions of a router.

A router's rows (`Router`, `Rule`) are its **draft**: the builder pages, the JSON API and
imports edit them, and every edit bumps `Router.version` (the draft's edit count). Traffic —
chat, `/v1`, the composer preview — routes with the **published version**
(`Router.published_version`, a `RouterVersion`): an immutable snapshot in the export format
(routers/schemas.py) with each rule's id, numbered 1, 2, 3… per router. Publishing copies the
draft into a new version; a rollback publishes an old version's snapshot again as a new number.
Nothing is ever deleted but with its router.

The router's name, slug, description and visibility are its identity and access, not how it
routes: they apply at once and are not versioned (a rollback does not rename or unshare a
router). Everything else — primary, classifier and embedding models, fallbacks, sticky,
cool-down, time zone, failure-policy overrides and the rules — is versioned.

How surfaces get a version: `router_published(router)` returns the router as its published
version defines it, a `PublishedRouter` (a read-only in-memory `Router`) whose `version` is the
published number and whose rules come from the snapshot; `router_at(router, version)` does the
same for any version (the test panel, golden sets, replays). Every function that takes a
`Router` — `compiled_router_for`, `classifier_target_for`, `semantic_embedder_for`,
`RoutingFacts.of_decision`, the planner — works on it unchanged, so a decision records the version
that made it. Compiled routers and classifier verdicts are cached per `revision`
("v3" for a version, "draft:17" for the draft).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.models import User
from audit.services import audit_record
from engine import RuleError
from providers.models import CatalogModel
from routers.compiling import compiled_router_for, router_identity
from routers.models import (
    PublishedRouter,
    Router,
    RouterVersion,
    default_categories,
    default_tiers,
)
from routers.schemas import DEFAULT_EMBEDDING_MODEL
from routers.selectors import router_can_edit
from routers.services import publish_version, router_snapshot

# Routing settings a version holds, with the value a snapshot that omits one means.
SETTINGS_DEFAULTS: dict[str, Any] = {
    "primary_model": None,
    "classifier_model": None,
    "fallbacks": [],
    "sticky": False,
    "cooldown_minutes": 30,
    "time_zone": "UTC",
    "embedding_model": DEFAULT_EMBEDDING_MODEL,
    "failover_policy": {},
    "preferred_families": [],
    # Tiers and categories (a snapshot from before them: the defaults, as an import does).
    "tiers": default_tiers(),
    "default_tier": "",
    "escalation": False,
    "categories": default_categories(),
}
SETTING_LABELS = {
    "primary_model": "Primary model",
    "classifier_model": "Classifier model",
    "fallbacks": "Fallback chain",
    "sticky": "Sticky",
    "cooldown_minutes": "Cool-down (minutes)",
    "time_zone": "Time zone",
    "embedding_model": "Embedding model",
    "failover_policy": "Failure policy overrides",
    "preferred_families": "Preferred model families",
    "tiers": "Tiers",
    "default_tier": "Default tier",
    "escalation": "Escalation",
    "categories": "Task categories",
}
RULE_FIELDS = (
    "enabled",
    "kind",
    "match",
    "conditions",
    "description",
    "target_model",
    "target_profile",
    "target_tier",
    "fallbacks",
    "examples",
    "threshold",
    "margin",
)
_SEMANTIC_ONLY = ("examples", "threshold", "margin")


# --- snapshots -------------------------------------------------------------------------------


def _rule_content(rule: Mapping[str, Any]) -> dict[str, Any]:
    content = {"name": rule.get("name", "")}
    semantic = rule.get("kind") == "semantic"
    defaults = {
        "enabled": True,
        "match": "all",
        "conditions": [],
        "description": "",
        "fallbacks": [],
        "examples": [],
        "threshold": 0.7,
        "margin": None,
        "target_model": None,
        "target_profile": "",
        "target_tier": "",
    }
    for key in RULE_FIELDS:
        if key in _SEMANTIC_ONLY and not semantic:
            continue  # stored on every row, meaningful only for semantic rules
        content[key] = rule.get(key, defaults.get(key))
    return content


def routing_content(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """What a snapshot routes with: the settings (defaults filled in) and the ordered rules,
    without identity fields or rule ids — two snapshots route alike when these are equal."""
    body = snapshot.get("router", {})
    settings = {key: body.get(key, default) for key, default in SETTINGS_DEFAULTS.items()}
    settings["failover_policy"] = dict(settings["failover_policy"] or {})
    return {"settings": settings, "rules": [_rule_content(r) for r in body.get("rules", [])]}


def router_draft_changed(*, router: Router) -> bool:
    """True when the draft routes differently from the published version (or none exists)."""
    published = router.published_version
    if published is None:
        return True
    return routing_content(router_snapshot(router=router)) != routing_content(published.snapshot)


# --- the router a version defines --------------------------------------------------------------

_SNAPSHOT_CACHE_SIZE = 512
# Versions never change, so their snapshots are kept per process. The key holds the router's
# identity as well as the version's id: SQLite hands out an id again after a rolled-back
# insert or a deleted last row, and such an id must not find another router's snapshot.
_snapshots: OrderedDict[tuple[str, int], tuple[int, dict[str, Any]]] = OrderedDict()
_snapshots_lock = Lock()


def _version_data(router: Router, version_id: int) -> tuple[int, dict[str, Any]]:
    key = (router_identity(router), version_id)
    with _snapshots_lock:
        hit = _snapshots.get(key)
        if hit is not None:
            _snapshots.move_to_end(key)
            return hit
    number, snapshot = RouterVersion.objects.values_list("number", "snapshot").get(
        pk=version_id, router_id=router.pk
    )
    data = (number, snapshot)
    with _snapshots_lock:
        _snapshots[key] = data
        while len(_snapshots) > _SNAPSHOT_CACHE_SIZE:
            _snapshots.popitem(last=False)
    return data


def _model_for(
    ref: str | None, *, known: list[CatalogModel | None], catalog: Mapping[str, CatalogModel] | None
) -> CatalogModel | None:
    """The catalog row `ref` names: from the rows the caller has loaded when possible (no query),
    else from the database — disabled rows included, so a disabled model reads as disabled (and
    the planner's fallbacks apply) rather than as missing."""
    if ref is None:
        return None
    for model in known:
        if model is not None and model.ref == ref:
            return model
    if catalog is not None and ref in catalog:
        return catalog[ref]
    slug, _, model_id = ref.partition("/")
    return (
        CatalogModel.objects.select_related("provider")
        .filter(provider__slug=slug, model_id=model_id)
        .first()
    )


def _view(
    router: Router,
    number: int,
    snapshot: Mapping[str, Any],
    *,
    catalog: Mapping[str, CatalogModel] | None,
) -> PublishedRouter:
    body = snapshot.get("router", {})
    fields = {f.attname: getattr(router, f.attname) for f in Router._meta.concrete_fields}
    view = PublishedRouter(**fields)
    view._state.adding = False
    view._state.db = router._state.db
    known = [
        router.primary_model if router.primary_model_id else None,
        router.classifier_model,
    ]
    primary = _model_for(body.get("primary_model"), known=known, catalog=catalog)
    # A primary model deleted from the catalog since (the rows protect only the draft's): the
    # draft's primary answers, as the nearest thing the owner chose.
    view.primary_model = primary if primary is not None else router.primary_model
    view.classifier_model = _model_for(body.get("classifier_model"), known=known, catalog=catalog)
    for key in (
        "fallbacks",
        "sticky",
        "cooldown_minutes",
        "time_zone",
        "embedding_model",
        "preferred_families",
        "tiers",
        "default_tier",
        "escalation",
        "categories",
    ):
        setattr(view, key, copy.deepcopy(body.get(key, SETTINGS_DEFAULTS[key])))
    view.failover_policy = dict(body.get("failover_policy") or {})
    view.version = number
    view.revision = f"v{number}"
    view.snapshot_rules = list(body.get("rules", []))
    return view


def router_published(
    router: Router, *, catalog: Mapping[str, CatalogModel] | None = None
) -> Router:
    """The router traffic uses: its published version (see the module's docstring). `catalog`
    (ref → row), when the caller has loaded it, saves the model lookups. A router never
    published (made in Django admin) is returned as it is: its rows route."""
    if isinstance(router, PublishedRouter) or router.published_version_id is None:
        return router
    number, snapshot = _version_data(router, router.published_version_id)
    return _view(router, number, snapshot, catalog=catalog)


def router_at(router: Router, version: RouterVersion | None) -> Router:
    """The router as `version` defines it; None: the draft (the router itself)."""
    if version is None:
        return router
    return _view(router, version.number, version.snapshot, catalog=None)


# --- reads -------------------------------------------------------------------------------------


def version_list(*, router: Router) -> list[RouterVersion]:
    return list(router.versions.select_related("published_by").order_by("-number"))


def version_get(*, router: Router, number: int) -> RouterVersion | None:
    return router.versions.select_related("published_by").filter(number=number).first()


# --- writes ------------------------------------------------------------------------------------


def _check_compiles(view: Router, what: str) -> None:
    try:
        compiled_router_for(view)
    except RuleError as exc:
        raise ValidationError(f"{what} cannot be published: {exc.message}.") from None


def _lock(router: Router) -> Router:
    locked = Router.objects.select_for_update().get(pk=router.pk)
    router.published_version_id = locked.published_version_id
    return router


def router_publish(*, router: Router, actor: User, note: str = "") -> RouterVersion:
    """Publish the draft as the next version: from now on traffic routes with it. Refused
    (ValidationError, nothing changed) when the draft routes exactly like the published version
    or does not compile; PermissionDenied for someone who may not edit the router."""
    if not router_can_edit(user=actor, router=router):
        raise PermissionDenied("Only someone who may edit this router can publish it.")
    with transaction.atomic():
        _lock(router)
        snapshot = router_snapshot(router=router)
        previous = router.published_version
        if previous is not None and routing_content(snapshot) == routing_content(previous.snapshot):
            raise ValidationError(
                f"Nothing to publish: the draft routes exactly like the published v{previous.number}."
            )
        _check_compiles(router, "The draft")
        version = publish_version(router=router, snapshot=snapshot, actor=actor, note=note)
        audit_record(
            actor=actor,
            action="router.publish",
            obj=router,
            before={"published_version": previous.number if previous else None},
            after={
                "published_version": version.number,
                "rules": [r["name"] for r in snapshot["router"]["rules"]],
                **({"note": version.note} if version.note else {}),
            },
        )
    return version


def router_rollback(*, router: Router, number: int, actor: User) -> RouterVersion:
    """Publish version `number`'s snapshot again, as a new version (the history stays whole).
    The draft is not touched. Refused when that version is the live one, is unknown, or no
    longer compiles against today's catalog."""
    if not router_can_edit(user=actor, router=router):
        raise PermissionDenied("Only someone who may edit this router can roll it back.")
    with transaction.atomic():
        _lock(router)
        source = version_get(router=router, number=number)
        if source is None:
            raise ValidationError(f"This router has no version {number}.")
        previous = router.published_version
        if previous is not None and previous.pk == source.pk:
            raise ValidationError(f"v{number} is already the published version.")
        _check_compiles(router_at(router, source), f"v{number}")
        version = publish_version(
            router=router,
            snapshot=copy.deepcopy(source.snapshot),
            actor=actor,
            note=f"Rollback to v{number}.",
            restored_from=number,
        )
        audit_record(
            actor=actor,
            action="router.rollback",
            obj=router,
            before={"published_version": previous.number if previous else None},
            after={"published_version": version.number, "restored_from": number},
        )
    return version


# --- comparing -------------------------------------------------------------------------------


@dataclass
class RuleChange:
    name: str
    old_name: str = ""
    fields: list[tuple[str, Any, Any]] = field(default_factory=list)


@dataclass
class SnapshotDiff:
    """What changes from `old` to `new`: settings (label, old, new), rules added and removed
    (names), rules changed (per field), and whether the order of the kept rules changed."""

    settings: list[tuple[str, Any, Any]] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[RuleChange] = field(default_factory=list)
    old_order: list[str] = field(default_factory=list)
    new_order: list[str] = field(default_factory=list)

    @property
    def reordered(self) -> bool:
        return self.old_order != self.new_order

    @property
    def empty(self) -> bool:
        return not (self.settings or self.added or self.removed or self.changed or self.reordered)

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": [{"setting": k, "old": o, "new": n} for k, o, n in self.settings],
            "rules_added": self.added,
            "rules_removed": self.removed,
            "rules_changed": [
                {
                    "rule": c.name,
                    **({"renamed_from": c.old_name} if c.old_name else {}),
                    "changes": [{"field": f, "old": o, "new": n} for f, o, n in c.fields],
                }
                for c in self.changed
            ],
            "reordered": self.reordered,
            "order_before": self.old_order,
            "order_after": self.new_order,
        }


def snapshot_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> SnapshotDiff:
    """Rules are matched by id (a rule keeps it across edits and versions), then by name."""
    diff = SnapshotDiff()
    old_content, new_content = routing_content(old), routing_content(new)
    for key in SETTINGS_DEFAULTS:
        before, after = old_content["settings"][key], new_content["settings"][key]
        if before != after:
            diff.settings.append((SETTING_LABELS[key], before, after))
    old_rules = list(old.get("router", {}).get("rules", []))
    new_rules = list(new.get("router", {}).get("rules", []))
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    unmatched_old = list(old_rules)
    unmatched_new = []
    for rule in new_rules:
        twin = next(
            (o for o in unmatched_old if rule.get("id") is not None and o.get("id") == rule["id"]),
            None,
        )
        if twin is None:
            unmatched_new.append(rule)
        else:
            unmatched_old.remove(twin)
            pairs.append((twin, rule))
    for rule in list(unmatched_new):
        twin = next((o for o in unmatched_old if o.get("name") == rule.get("name")), None)
        if twin is not None:
            unmatched_old.remove(twin)
            unmatched_new.remove(rule)
            pairs.append((twin, rule))
    for before, after in pairs:
        a, b = _rule_content(before), _rule_content(after)
        fields = [
            (key, a.get(key), b.get(key))
            for key in RULE_FIELDS
            if key != "name" and a.get(key) != b.get(key)
        ]
        renamed = a["name"] != b["name"]
        if fields or renamed:
            diff.changed.append(
                RuleChange(name=b["name"], old_name=a["name"] if renamed else "", fields=fields)
            )
    diff.added = [r.get("name", "") for r in unmatched_new]
    diff.removed = [r.get("name", "") for r in unmatched_old]
    kept_new = {id(after) for _, after in pairs}
    kept_old = {id(before): after for before, after in pairs}
    diff.old_order = [kept_old[id(r)].get("name", "") for r in old_rules if id(r) in kept_old]
    diff.new_order = [r.get("name", "") for r in new_rules if id(r) in kept_new]
    return diff


def router_rule_names(router: Router) -> list[tuple[str, str]]:
    """(name, kind) of the enabled rules, in order, of the draft or the version `router` is."""
    if isinstance(router, PublishedRouter):
        return [(r["name"], r["kind"]) for r in router.snapshot_rules if r.get("enabled", True)]
    return list(
        router.rules.filter(enabled=True).order_by("position", "id").values_list("name", "kind")
    )
