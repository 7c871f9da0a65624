"""Answering one API request through a router or a named model.

The OpenAI-compatible endpoint (`gateway/v1.py`) speaks the wire format; this module does the
rest, protocol-free: resolve what `model` names for this user, route (for a router), turn the
decision into a candidate chain for `providers.failover.run_chain` (the one failure policy),
and, once the stream ends, compute usage and cost and log the routing decision like chat does
(`channel="api"`).

The hot path reads nothing from the database. What a call needs from it — the enabled
catalog (provider settings, prices, the capability facts routing needs), the router row and
its compiled rules, the classifier target, provider configs with decrypted keys — is
prepared once per (user, `model` name) in one thread hop (`_prepare`) and kept in process
memory while the routing configuration's version token (`routers.config_version`, in the
shared cache) is unchanged, and at most `PLAN_CACHE_SECONDS`. Any save of a router, rule,
catalog model or provider replaces the token, so every process prepares afresh on its next
call; a shared cache that cannot be reached means no copies are trusted. The decision is
logged once the response has been sent (see `gateway/v1.py`), so logging never delays the answer.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal
from threading import Lock
from typing import Any

from django.conf import settings
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from decisions.log import answer_payload, decision_log
from engine import HistoryMessage, RouteInput, RuleError
from providers.adapters.base import ChatMessage, ChatRequest, Usage
from providers.failover import Candidate, ChainResult
from providers.models import CatalogModel
from providers.selectors import catalog_list_enabled
from providers.services import candidates_for, chain_costs
from routers import config_version
from routers.compiling import catalog_infos, compiled_router_with
from routers.models import Router
from routers.routing import aroute, classifier_target_for, decision_facts
from routers.selectors import router_list_usable_by
from routers.semantic import semantic_embedder_for
from routerweb import clock as clocks
from routerweb.db import run_db

log = logging.getLogger(__name__)

ROUTER_PREFIX = "router:"


@dataclass
class Plan:
    """Which models to try, in order, and the routing facts logged with the answer."""

    uid: str
    candidates: list[Candidate]
    routing: dict[str, Any]
    catalog: dict[str, CatalogModel]
    router: Router | None = None
    primary: CatalogModel | None = None
    problem: str = ""

    @property
    def rule_name(self) -> str:
        return self.routing.get("rule_name") or ""


@dataclass
class Outcome:
    usage: Usage | None
    cost: Decimal = Decimal("0")
    primary_cost: Decimal = Decimal("0")


@dataclass
class _Prepared:
    catalog: dict[str, CatalogModel]
    router: Router | None = None
    model: CatalogModel | None = None
    compiled: Any = None
    compile_error: str = ""
    target: Any = None
    embedder: Any = None
    # Candidates (provider config with the decrypted key) per model ref, built on first use.
    _candidates: dict[str, Candidate] = field(default_factory=dict)

    def candidates(self, models: list[CatalogModel]) -> list[Candidate]:
        out = []
        for model in models:
            candidate = self._candidates.get(model.ref)
            if candidate is None:
                candidate = self._candidates[model.ref] = candidates_for([model])[0]
            out.append(candidate)
        return out


def router_slug_of(name: str) -> str | None:
    """The router slug `model` names (`router:<slug>` or a bare slug), else None (a model ref)."""
    if name.startswith(ROUTER_PREFIX):
        return name[len(ROUTER_PREFIX) :]
    if "/" in name:
        return None
    return name


_PLAN_CACHE_SIZE = 1024
# (user id, admin?, model name) → (config version, monotonic expiry, prepared inputs)
_plans: OrderedDict[tuple[int, bool, str], tuple[str, float, _Prepared]] = OrderedDict()
_plans_lock = Lock()


def _compiled_router(router: Router, catalog: dict[str, CatalogModel]) -> Any:
    """The compiled router (cached per router version and catalog fingerprint), from the
    catalog rows this call loaded anyway. Raises RuleError for an invalid router."""
    rows = sorted(catalog.values(), key=lambda m: m.pk)
    return compiled_router_with(
        router,
        *catalog_infos((m.ref, m.display_name, m.context_window, m.supports_images) for m in rows),
    )


async def _prepared_for(user: User, name: str) -> _Prepared:
    """The plan inputs for this user and name: the process's copy while the routing
    configuration is unchanged, else freshly read (see the module docstring)."""
    try:
        version: str | None = await config_version.current()
    except Exception:
        log.warning("routing config version unavailable; reading afresh", exc_info=True)
        version = None
    key = (user.pk, user.is_admin_role, name)
    now = clocks.current().monotonic()
    if version is not None:
        with _plans_lock:
            hit = _plans.get(key)
        if hit is not None and hit[0] == version and hit[1] > now:
            return hit[2]
    prepared = await run_db(_prepare, user=user, name=name)
    if version is not None:
        with _plans_lock:
            _plans[key] = (version, now + settings.PLAN_CACHE_SECONDS, prepared)
            _plans.move_to_end(key)
            while len(_plans) > _PLAN_CACHE_SIZE:
                _plans.popitem(last=False)
    return prepared


def _prepare(*, user: User, name: str) -> _Prepared:
    """Every database read a call needs: the enabled catalog and, for a router, its row (the
    compiled router is cached per version). Raises Http404 for a name this user cannot use."""

    catalog = {m.ref: m for m in catalog_list_enabled().order_by()}
    slug = router_slug_of(name)
    if slug is None:
        model = catalog.get(name)
        if model is None:
            raise Http404(f"The model '{name}' does not exist or is not enabled.")
        return _Prepared(catalog=catalog, model=model)
    # The selector decides who may use which router; its joins are dropped because the
    # primary and classifier models are usually among the catalog rows just loaded (the
    # joins cost more than the query itself on this path).
    router = (
        router_list_usable_by(user=user).select_related(None).filter(slug=slug).order_by().first()
    )
    if router is None:
        raise Http404(f"The router '{slug}' does not exist or you do not have access to it.")
    by_id = {m.pk: m for m in catalog.values()}
    if router.primary_model_id in by_id:
        router.primary_model = by_id[router.primary_model_id]
    if router.classifier_model_id in by_id:
        router.classifier_model = by_id[router.classifier_model_id]
    prepared = _Prepared(catalog=catalog, router=router)
    try:
        prepared.compiled = _compiled_router(router, catalog)
    except RuleError as exc:
        prepared.compile_error = exc.message
    prepared.target = classifier_target_for(router)
    if prepared.compiled is not None and prepared.compiled.has_semantic:
        prepared.embedder = semantic_embedder_for(router)
    return prepared


def route_input_for_api(
    *, user: User, groups: tuple[str, ...], messages: tuple[ChatMessage, ...]
) -> Any:
    """The RouteInput for an API call: the last user message is the text, the rest history."""
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    last = messages[last_user] if last_user is not None else None
    earlier = messages[:last_user] if last_user is not None else messages
    images = last.images if last is not None else ()
    return RouteInput(
        text=last.text if last is not None else "",
        now=timezone.now(),
        history=tuple(
            HistoryMessage(role=m.role, text=m.text, images=len(m.images)) for m in earlier
        ),
        has_image=bool(images),
        attachment_types=tuple(i.mime_type for i in images),
        user=user.username,
        groups=groups,
    )


async def aplan(*, user: User, groups: tuple[str, ...], name: str, request: ChatRequest) -> Plan:
    """Decide which models answer. Raises Http404 when `name` is nothing this user may use."""
    prepared = await _prepared_for(user, name)
    uid = str(uuid.uuid4())
    catalog = prepared.catalog
    if prepared.model is not None:
        model = prepared.model
        routing: dict[str, Any] = {
            "source": "override",
            "model": model.ref,
            "reason": "Model requested directly through the API; no router involved.",
        }
        return Plan(uid, prepared.candidates([model]), routing, catalog, primary=model)

    router = prepared.router
    assert router is not None
    primary = router.primary_model
    if prepared.compiled is None:
        routing = {
            "source": "primary",
            "router": router.name,
            "router_id": router.pk,
            "router_version": router.version,
            "model": primary.ref,
            "reason": f"Router is invalid ({prepared.compile_error}); primary model used.",
        }
        chain = [primary] if primary.ref in catalog else []
        problem = (
            ""
            if chain
            else f"The router '{router.slug}' is invalid and its primary model is disabled."
        )
        return Plan(
            uid,
            prepared.candidates(chain),
            routing,
            catalog,
            router=router,
            primary=primary,
            problem=problem,
        )

    inp = route_input_for_api(user=user, groups=groups, messages=request.messages)
    decision = await aroute(
        prepared.compiled, inp, target=prepared.target, embedder=prepared.embedder
    )
    chain = [catalog[ref] for ref in decision.chain if ref in catalog]
    # Verdicts are built lazily (only when the decision is logged), so keep the Decision.
    routing = {**decision_facts(router, decision), "decision": decision}
    problem = "" if chain else f"No model can answer this message: {decision.reason}"
    return Plan(
        uid,
        prepared.candidates(chain),
        routing,
        catalog,
        router=router,
        primary=primary,
        problem=problem,
    )


def outcome_of(plan: Plan, request: ChatRequest, result: ChainResult) -> Outcome:
    """Usage (reported, else estimated), cost, and the cost had the primary model answered."""
    return Outcome(*chain_costs(plan.catalog, plan.primary, request, result))


def log_call(*, plan: Plan, result: ChainResult, outcome: Outcome, user_id: int) -> None:
    """Record the routing decision (via Celery, see decisions.log), channel "api"."""
    decision = plan.routing.get("decision")
    usage = outcome.usage
    decision_log(
        answer_payload(
            routing=plan.routing,
            result=result,
            router=plan.router,
            verdicts=[v.to_dict() for v in decision.verdicts] if decision is not None else [],
            input_tokens=usage.input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            cost=outcome.cost,
            primary_cost=outcome.primary_cost,
            channel="api",
            user_id=user_id,
            uid=plan.uid,
        )
    )
