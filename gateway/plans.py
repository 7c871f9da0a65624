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

import dataclasses
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
from governance.selectors import policy_set_for
from governance.spend import budget_specs_for_user
from providers.adapters.base import ChatMessage, ChatRequest, Usage
from providers.failover import Candidate, ChainResult
from providers.models import CatalogModel
from providers.selectors import catalog_list_enabled
from providers.services import candidates_for, chain_costs
from routers import config_version
from routers.budgets import (
    BudgetResult,
    budget_admit,
    budget_check,
    budget_settle,
    budget_step_down,
    classifier_cost,
    restriction_merge,
    with_budget_reason,
)
from routers.compiling import catalog_infos, compiled_router_with
from routers.models import Router
from routers.policies import policy_apply, policy_error, policy_restrict_models
from routers.routing import aroute, classifier_target_for, decision_facts
from routers.selectors import router_by_slug_usable_by, router_list_usable_by
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
    # The request as it may leave (masked by a policy); None: the caller's own.
    request: ChatRequest | None = None
    refused_by_policy: bool = False
    budget: Any = None  # routers.budgets.BudgetResult
    token_id: int | None = None

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
    # The compiled data policies of the instance (and the router): a PolicySet, or the
    # RuleError of one that no longer compiles (then every call is refused).
    policies: Any = None
    # The budgets this user's calls through this name may fall under (governance.spend).
    budgets: list[Any] = field(default_factory=list)
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
        return _Prepared(
            catalog=catalog,
            model=model,
            policies=_policies_for(None),
            budgets=budget_specs_for_user(user_id=user.pk, router_id=None),
        )
    # The selector decides who may use which router; its joins are dropped because the
    # primary and classifier models are usually among the catalog rows just loaded (the
    # joins cost more than the query itself on this path).
    router = router_by_slug_usable_by(
        user=user, slug=slug, qs=router_list_usable_by(user=user).select_related(None)
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
    prepared.policies = _policies_for(router.pk)
    prepared.budgets = budget_specs_for_user(user_id=user.pk, router_id=router.pk)
    return prepared


def _policies_for(router_id: int | None) -> Any:

    try:
        return policy_set_for(workspace_id=None, router_id=router_id)
    except RuleError as exc:
        return exc


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


async def aplan(
    *,
    user: User,
    groups: tuple[str, ...],
    name: str,
    request: ChatRequest,
    token_id: int | None = None,
) -> Plan:
    """Decide which models answer. Raises Http404 when `name` is nothing this user may use.

    The data policies run first (routers.policies): `plan.request` is the request as it may
    leave (masked where a policy masks), and a refusal is a plan with `problem` set."""

    prepared = await _prepared_for(user, name)
    if isinstance(prepared.policies, RuleError):
        guard = policy_error(prepared.policies)
    else:
        guard = policy_apply(prepared.policies, request)
    now = timezone.now()
    budget = BudgetResult()
    if not guard.refusal:  # a refused message costs nothing and touches no budget
        budget = await budget_check(
            prepared.budgets,
            now=now,
            user_id=user.pk,
            token_id=token_id,
            router_id=prepared.router.pk if prepared.router is not None else None,
        )
    if budget.refusal:
        plan = Plan(
            str(uuid.uuid4()),
            [],
            {"source": "budget", "reason": budget.refusal},
            prepared.catalog,
            router=prepared.router,
            problem=budget.refusal,
        )
    else:
        bound = dataclasses.replace(
            guard, restriction=restriction_merge(guard.restriction, budget.restriction)
        )
        plan = await _aplan(user=user, groups=groups, prepared=prepared, guard=bound)
        if plan.candidates:
            refs = [c.ref for c in plan.candidates]
            stepped = budget_step_down(
                refs,
                prepared.catalog,
                result=budget,
                restriction=bound.restriction,
                request=guard.request,
            )
            if stepped != refs:
                plan.candidates = prepared.candidates([prepared.catalog[r] for r in stepped])
                plan.routing["model"] = stepped[0]
            await budget_admit(budget, stepped, prepared.catalog, guard.request, now)
            if budget.refusal:
                plan.candidates, plan.problem = [], budget.refusal
        with_budget_reason(plan.routing, budget)
    plan.budget = budget
    plan.token_id = token_id
    plan.request = guard.request
    facts = guard.routing_facts()
    if facts:
        plan.routing.update(facts)
        summary = facts["policy"]["summary"]
        reason = plan.routing.get("reason") or ""
        plan.routing["reason"] = f"{reason} · {summary}" if reason else summary.capitalize()
    return plan


async def _aplan(*, user: User, groups: tuple[str, ...], prepared: _Prepared, guard: Any) -> Plan:

    uid = str(uuid.uuid4())
    catalog = prepared.catalog
    if guard.refusal:
        return Plan(
            uid,
            [],
            {"source": "policy", "reason": guard.refusal},
            catalog,
            router=prepared.router,
            problem=guard.refusal,
            refused_by_policy=True,
        )
    request = guard.request
    has_image = any(m.images for m in request.messages)
    if prepared.model is not None:
        model = prepared.model
        routing: dict[str, Any] = {
            "source": "override",
            "model": model.ref,
            "reason": "Model requested directly through the API; no router involved.",
        }
        refs, note = policy_restrict_models([model.ref], guard, catalog, has_image=has_image)
        if note:
            routing["reason"] += f" — {note}"
            routing["model"] = refs[0] if refs else ""
        models = [catalog[ref] for ref in refs]
        problem = "" if models else f"No model can answer this message: {note}."
        return Plan(
            uid,
            prepared.candidates(models),
            routing,
            catalog,
            primary=model,
            problem=problem,
            refused_by_policy=not models,
        )

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
        refs, note = policy_restrict_models(
            [primary.ref] if primary.ref in catalog else [], guard, catalog, has_image=has_image
        )
        if note:
            routing["reason"] += f" — {note}"
        chain = [catalog[ref] for ref in refs]
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

    # Built from the masked request: the classifier sees only what may leave.
    inp = route_input_for_api(user=user, groups=groups, messages=request.messages)
    decision = await aroute(
        prepared.compiled,
        inp,
        target=prepared.target,
        embedder=prepared.embedder,
        restriction=guard.restriction,
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
        refused_by_policy=not chain and guard.restriction is not None,
    )


def outcome_of(plan: Plan, request: ChatRequest, result: ChainResult) -> Outcome:
    """Usage (reported, else estimated), cost, and the cost had the primary model answered."""
    return Outcome(*chain_costs(plan.catalog, plan.primary, request, result))


def log_call(*, plan: Plan, result: ChainResult, outcome: Outcome, user_id: int) -> None:
    """Record the routing decision (via Celery, see decisions.log), channel "api", and book
    the cost against the budgets."""

    try:
        budget_settle(
            plan.budget,
            cost=outcome.cost + classifier_cost(plan.routing, plan.router, plan.catalog),
            created_at=timezone.now(),
            user_id=user_id,
            token_id=plan.token_id,
            router_id=plan.router.pk if plan.router is not None else None,
            channel="api",
        )
    except Exception:  # the answer is out; the decision must still be logged
        log.exception("could not book the cost of API call %s", plan.uid)

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
