"""Turn a router into engine objects, compiled once per (router revision, catalog state).

The engine never sees a QuerySet: this module is the edge. A router is its draft (the rows)
or a version (`PublishedRouter`, built by routers/versions.py from a snapshot). The cache is
process-local but keyed by everything the compiled router depends on — router identity (id +
creation time), its revision ("v3" for a published version, which never changes; "draft:17"
for the draft, whose edit count every edit bumps) and a fingerprint of the model catalog
(context windows and image support drive the capability filter) — so every process computes
the same thing and a stale entry can never be served.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import astuple
from threading import Lock
from typing import cast

from engine import BUILTIN_PROFILES, ModelInfo, ProfileSpec, RouterSpec, RuleSpec, compile_router
from engine.compile import CompiledRouter
from engine.tiers import TIER_PREFIX, TierSpec
from engine.types import MatchMode, RuleKind
from providers.models import CatalogModel
from routers.models import Profile, PublishedRouter, Router

_CACHE_SIZE = 256
_cache: OrderedDict[tuple[str, str, str], CompiledRouter] = OrderedDict()
_lock = Lock()


def catalog_snapshot() -> tuple[dict[str, ModelInfo], str]:
    """Enabled catalog models as engine `ModelInfo`s, plus a fingerprint of what routing uses."""
    rows = (
        CatalogModel.objects.filter(enabled=True, provider__enabled=True, kind="chat")
        .select_related("provider")
        .order_by("id")
    )
    return catalog_infos(model_info(m) for m in rows)


def model_info(model: CatalogModel) -> ModelInfo:
    """What routing knows of a catalog row (capability filter, profiles)."""
    return ModelInfo(
        ref=model.ref,
        display_name=model.display_name,
        context_window=model.context_window,
        supports_images=model.supports_images,
        family=model.family,
        size_class=model.size_class,
        supports_tools=model.supports_tools,
        input_price=float(model.input_price_per_m),
        output_price=float(model.output_price_per_m),
    )


def catalog_infos(infos: Iterable[ModelInfo]) -> tuple[dict[str, ModelInfo], str]:
    """`ModelInfo`s by ref and the catalog fingerprint, from infos in id order — from a query
    (`catalog_snapshot`) or rows already loaded (`model_info`)."""
    models: dict[str, ModelInfo] = {}
    digest = hashlib.blake2b(digest_size=12)
    for info in infos:
        models[info.ref] = info
        digest.update(repr(astuple(info)).encode())
        digest.update(b"\n")
    return models, digest.hexdigest()


def router_revision(router: Router) -> str:
    """What this router's caches key on: "v<N>" for a version, "draft:<edit count>" else."""
    if isinstance(router, PublishedRouter):
        return router.revision
    return f"draft:{router.version}"


def _snapshot_rules(router: PublishedRouter) -> tuple[RuleSpec, ...]:
    # A snapshot is the export format with rule ids; one written before ids existed (never, in
    # practice) gets negative ids that name no row, so its decisions keep names only.
    return tuple(
        RuleSpec(
            id=int(rule.get("id") or -(position + 1)),
            name=rule["name"],
            kind=cast(RuleKind, rule["kind"]),
            target=(
                f"{TIER_PREFIX}{rule['target_tier']}"
                if rule.get("target_tier")
                else rule.get("target_model") or ""
            ),
            enabled=bool(rule.get("enabled", True)),
            match=cast(MatchMode, rule.get("match", "all")),
            conditions=tuple(rule.get("conditions") or ()),
            description=rule.get("description", ""),
            fallbacks=tuple(rule.get("fallbacks") or ()),
            examples=tuple(rule.get("examples") or ()),
            threshold=float(rule.get("threshold", 0.7)),
            margin=rule.get("margin"),
            profile=rule.get("target_profile") or "",
        )
        for position, rule in enumerate(router.snapshot_rules)
    )


def profiles_defined() -> dict[str, ProfileSpec]:
    """The profiles rules may target: the built-in ones, overridden or joined by the admin's."""
    profiles = dict(BUILTIN_PROFILES)
    for row in Profile.objects.all():
        profiles[row.name] = row.spec()
    return profiles


def profiles_fingerprint() -> str:
    """A digest of the admin's profile definitions: part of the compiled-router cache key, so
    a profile edit reaches every router (draft and published versions alike) at once. Profiles
    are instance settings like the catalog, not part of a router's versions."""
    rows = Profile.objects.order_by("name").values_list(
        "name", "needs_images", "needs_tools", "min_context", "max_price", "size_classes"
    )
    return hashlib.blake2b(repr(list(rows)).encode(), digest_size=8).hexdigest()


def router_spec_for(router: Router, models: dict[str, ModelInfo] | None = None) -> RouterSpec:
    if models is None:
        models, _ = catalog_snapshot()
    rules = _snapshot_rules(router) if isinstance(router, PublishedRouter) else _row_rules(router)
    # Read only when a rule targets a profile (the cache key covers their definitions).
    profiles = profiles_defined() if any(rule.profile for rule in rules) else {}
    return RouterSpec(
        id=router.pk,
        primary=router.primary_model.ref,
        name=router.name,
        version=router.version,
        revision=router_revision(router),
        rules=rules,
        models=models,
        classifier=router.classifier_model.ref if router.classifier_model is not None else None,
        fallbacks=tuple(router.fallbacks or ()),
        sticky=router.sticky,
        cooldown_minutes=router.cooldown_minutes,
        time_zone=router.time_zone,
        embedding_model=router.embedding_model,
        profiles=profiles,
        preferred_families=tuple(router.preferred_families or ()),
        tiers=tier_specs(router.tiers),
        default_tier=router.default_tier,
        escalation=router.escalation,
        categories=tuple(router.categories or ()),
    )


def tier_specs(rows: object) -> tuple[TierSpec, ...]:
    """The stored tiers (a JSON list) as engine `TierSpec`s; the engine validates them."""
    if not isinstance(rows, list):
        return ()
    return tuple(
        TierSpec(
            name=str(row.get("name", "")),
            model=str(row.get("model") or ""),
            fallback=str(row.get("fallback") or ""),
            description=str(row.get("description") or ""),
        )
        for row in rows
        if isinstance(row, dict)
    )


def _row_rules(router: Router) -> tuple[RuleSpec, ...]:
    # `kind` and `match` are CharFields limited by their choices to the engine's literals.
    return tuple(
        RuleSpec(
            id=rule.pk,
            name=rule.name,
            kind=cast(RuleKind, rule.kind),
            target=rule.target_ref,
            enabled=rule.enabled,
            match=cast(MatchMode, rule.match),
            conditions=tuple(rule.conditions or ()),
            description=rule.description,
            fallbacks=tuple(rule.fallbacks or ()),
            examples=tuple(rule.examples or ()),
            threshold=rule.threshold,
            margin=rule.margin,
            profile=rule.target_profile,
        )
        for rule in router.rules.select_related("target_model__provider").order_by("position", "id")
    )


def router_identity(router: Router) -> str:
    """Id plus creation time: SQLite reuses the id of a deleted last row, and a new router
    with a reused id and version 1 must not meet its predecessor's cache entries."""
    return f"{router.pk}@{router.created_at.timestamp():.6f}"


def compiled_router_for(router: Router) -> CompiledRouter:
    """The compiled router for this draft or version. Raises RuleError if it is invalid."""
    return compiled_router_with(router, *catalog_snapshot())


def compiled_router_with(
    router: Router, models: dict[str, ModelInfo], fingerprint: str
) -> CompiledRouter:
    """`compiled_router_for` with a catalog the caller has already read (see `catalog_infos`)."""
    key = (router_identity(router), router_revision(router), fingerprint + profiles_fingerprint())
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    compiled = compile_router(router_spec_for(router, models))
    with _lock:
        _cache[key] = compiled
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled
