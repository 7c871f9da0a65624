"""The one planner: which models answer a message, and settling what happened.

Every surface plans through here — the chat page, `/v1`, the composer's route preview, the
rule builder's test panel, the JSON API dry-run and `manage.py route`:

    plan = await plan_message(PlanRequest(user=..., turns=..., router=...))
    ...                                   # the surface calls the models along plan.chain
    outcome = settle(plan, result)        # books the spend, logs the decision, sets stickiness

`plan_message` does, in this order and the same for every surface:
1. what the message goes to: a model picked for this one message, else the thread's `/model`
   pin (both held to the enabled catalog), else the router (which the user must still be
   allowed to use) or a named model;
2. the data policies (refuse, mask, restrict), then the budgets (step down, refuse);
3. for a router: the engine's input from the conversation (`routers.routing.route_input_of`),
   stickiness, the engine (and the classifier call unless `classify=False`: the preview);
4. the budget's step-down and, for answering surfaces, its reservation.
The result is a `Plan`: the chain of models to try (empty when refused, `problem` says why)
and its `RoutingFacts` for the badge, the headers and the log.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from threading import Lock
from typing import Any, Literal

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from decisions.log import answer_payload, decision_log
from engine import Decision, RuleError
from engine.compile import CompiledRouter
from engine.tiers import tier_models
from experiments.assign import arm_of
from experiments.selectors import experiment_running_for
from governance.selectors import policy_set_for
from governance.spend import budget_specs_for_user
from preferences.apply import preference_apply
from preferences.selectors import preferences_for_router
from providers.adapters.base import ChatMessage, ChatRequest, ImagePart, Usage
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
    restriction_merge,
    routing_calls_cost,
)
from routers.compiling import catalog_infos, compiled_router_with, model_info
from routers.facts import RoutingFacts
from routers.models import Router
from routers.policies import PolicyResult, policy_apply, policy_error, policy_restrict_models
from routers.routing import (
    ClassifierTarget,
    Turn,
    aroute,
    asticky_get,
    asticky_set,
    at_time_of_day,
    classifier_target_for,
    preview_decide,
    route_input_of,
)
from routers.selectors import (
    router_by_slug_usable_by,
    router_can_use,
    router_list_usable_by,
    router_unavailable_message,
)
from routers.semantic import SemanticEmbedder, semantic_embedder_for
from routers.versions import router_at, router_published
from routerweb import clock as clocks
from routerweb.db import run_db

log = logging.getLogger(__name__)

ROUTER_PREFIX = "router:"


class TierNotFound(Exception):
    """`router:<slug>/<tier>` names a tier the router does not have: a 400 in /v1, not a
    404, since the router exists and the message lists its tiers."""


# chat: the chat page · api: /v1 · preview: the composer · test: the test panel, the JSON
# dry-run and `manage.py route`. Only "chat" and "api" answer (reserve budget, settle).
Channel = Literal["chat", "api", "preview", "test"]


@dataclass(frozen=True)
class Workspace:
    """The workspace a message is sent in, as routing sees it (rules test its name and tags;
    policies and budgets may be the workspace's)."""

    id: int | None
    name: str
    tags: tuple[str, ...] = ()
    workspace_type: str = ""
    # The workspace's router tier ("": the router decides).
    tier: str = ""


@dataclass(frozen=True)
class PlanRequest:
    """One message to plan. Exactly one of `router`, `model` or `name` says what it goes to."""

    user: User
    # The conversation, oldest first; the last user turn is the message.
    turns: tuple[Turn, ...]
    router: Router | None = None  # route with this router (a workspace's, the test panel's)
    model: CatalogModel | None = None  # answer with this model (a single-model workspace)
    name: str = ""  # what /v1's `model` names: "router:<slug>", a bare slug or a model ref
    pin: str = ""  # the thread's `/model` pin (a model ref)
    pick: str = ""  # a model picked for this one message
    # The tier the user asked for: the thread's `/tier`, or the test panel's (a /v1 name's
    # `router:<slug>/<tier>` is read from `name`).
    tier: str = ""
    workspace: Workspace | None = None
    # Stickiness is per conversation: "thread:<id>" for chat threads; "" for none.
    thread_key: str = ""
    # What would be sent (system prompt, images); built from `turns` when None.
    request: ChatRequest | None = None
    channel: Channel = "chat"
    token_id: int | None = None
    groups: tuple[str, ...] | None = None  # the user's groups, when already known
    # The test panel's pretend conditions.
    now: datetime | None = None
    conversation_tokens: int | None = None
    turn_count: int | None = None
    # ... and its pretend workspace context (a real `workspace` gives its own).
    workspace_type: str = ""
    workspace_tags: tuple[str, ...] = ()
    workspace_tier: str = ""

    @property
    def answers(self) -> bool:
        return self.channel in ("chat", "api")


@dataclass
class Plan:
    """Which models to try, in order, and the routing facts that go with the answer."""

    facts: RoutingFacts
    chain: list[CatalogModel]
    request: ChatRequest  # as it may leave (masked where a policy masks)
    catalog: dict[str, CatalogModel]
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    # The router involved (its decision is logged); None when none was.
    router: Router | None = None
    # Whose cost the savings are measured against (the router's primary model, else the model).
    primary: CatalogModel | None = None
    # Why nothing can be sent ("" when `chain` has a model); shown as is.
    problem: str = ""
    budget: BudgetResult | None = None
    decision: Decision | None = None
    # The preview's undecided rules (it calls no model).
    pending_llm_rules: tuple[str, ...] = ()
    pending_semantic_rules: tuple[str, ...] = ()
    pending_facet_rules: tuple[str, ...] = ()
    req: PlanRequest | None = field(default=None, repr=False)
    prepared: Prepared | None = field(default=None, repr=False)

    @property
    def rule_name(self) -> str:
        return self.facts.rule_name

    @property
    def refused_by(self) -> str:
        """ "" when a model can answer; else what refused: "policy", "budget", "router" (no
        longer usable), "model" (a pin or pick not enabled) or "none" (no model suitable)."""
        if self.chain:
            return ""
        if self.facts.source in ("policy", "budget", "router", "model", "limit"):
            return self.facts.source
        return "policy" if self.facts.policy else "none"

    def candidates(self) -> list[Candidate]:
        """The chain with provider configs (decrypted keys), built once per prepared copy."""
        if self.prepared is not None:
            return self.prepared.candidates(self.chain)
        return candidates_for(self.chain)


@dataclass
class Outcome:
    usage: Usage | None
    cost: Decimal = Decimal("0")
    primary_cost: Decimal = Decimal("0")


# --- what a plan reads from the database ------------------------------------------------


@dataclass
class Prepared:
    """Every database read a plan needs, for one user and target: the enabled catalog, the
    router and its compiled rules, the classifier, policies and budgets."""

    catalog: dict[str, CatalogModel]
    router: Router | None = None
    model: CatalogModel | None = None
    compiled: CompiledRouter | None = None
    compile_error: str = ""
    target: ClassifierTarget | None = None
    embedder: SemanticEmbedder | None = None
    # A PolicySet, or the RuleError of one that no longer compiles (then all is refused).
    policies: Any = None
    budgets: list[Any] = field(default_factory=list)
    # Set when the router may not be used by this user (then nothing else is read).
    unusable: str = ""
    # The running experiment's arm this plan routes with ({"id", "name", "arm", "version"}).
    experiment: dict[str, Any] | None = None
    # The user's preferred models for the router's rules and tiers ("rule:<id>", "tier:<name>"
    # → model ref).
    preferences: dict[str, str] = field(default_factory=dict)
    # The tier a /v1 name asked for (`router:<slug>/<tier>`); "" for none.
    tier: str = ""
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
    """The router slug `name` names (`router:<slug>` or a bare slug), else None (a model ref)."""
    if name.startswith(ROUTER_PREFIX):
        return name[len(ROUTER_PREFIX) :]
    if "/" in name:
        return None
    return name


def _policies_for(workspace_id: int | None, router_id: int | None) -> Any:
    try:
        return policy_set_for(workspace_id=workspace_id, router_id=router_id)
    except RuleError as exc:
        return exc


def _prepare_router(
    prepared: Prepared, router: Router, *, user: User, workspace_id: int | None
) -> Prepared:
    prepared.router = router
    if not router_can_use(user=user, router=router):
        prepared.unusable = router_unavailable_message(router)
        return prepared
    catalog = prepared.catalog
    # The primary and classifier models are usually among the catalog rows just loaded.
    by_id = {m.pk: m for m in catalog.values()}
    if router.primary_model_id in by_id:
        router.primary_model = by_id[router.primary_model_id]
    if router.classifier_model_id in by_id:
        router.classifier_model = by_id[router.classifier_model_id]
    rows = sorted(catalog.values(), key=lambda m: m.pk)
    try:
        prepared.compiled = compiled_router_with(
            router,
            *catalog_infos(model_info(m) for m in rows),
        )
    except RuleError as exc:
        prepared.compile_error = exc.message
    prepared.target = classifier_target_for(router)
    if prepared.compiled is not None and prepared.compiled.has_semantic:
        prepared.embedder = semantic_embedder_for(router)
    prepared.policies = _policies_for(workspace_id, router.pk)
    prepared.budgets = budget_specs_for_user(user_id=user.pk, router_id=router.pk)
    prepared.preferences = preferences_for_router(user_id=user.pk, router_id=router.pk)
    return prepared


def prepare(
    *,
    user: User,
    router: Router | None = None,
    model: CatalogModel | None = None,
    name: str = "",
    workspace_id: int | None = None,
    published: bool = False,
    arm_key: str = "",
) -> Prepared:
    """Read what planning needs (synchronous). A `name` this user cannot use raises Http404
    (it names nothing they may see, so it says no more than that). `published`: route with
    the router's published version (traffic), not the router given (the test panel's draft
    or chosen version); a router named by `name` (/v1) is always the published version."""
    catalog = {m.ref: m for m in catalog_list_enabled().order_by()}
    prepared = Prepared(catalog=catalog)
    tier = ""
    if name:
        slug = router_slug_of(name)
        if slug is None:
            model = catalog.get(name)
            if model is None:
                raise Http404(f"The model '{name}' does not exist or is not enabled.")
        else:
            slug, _, tier = slug.partition("/")
            router = router_by_slug_usable_by(
                user=user, slug=slug, qs=router_list_usable_by(user=user).select_related(None)
            )
            if router is None:
                raise Http404(
                    f"The router '{slug}' does not exist or you do not have access to it."
                )
            published = True
    if router is not None:
        if published:
            router = _traffic_router(prepared, router, arm_key=arm_key or f"user:{user.pk}")
        if tier:
            # The tiers of the version that routes (the published one for /v1).
            names = [str(t.get("name")) for t in router.tiers or () if isinstance(t, dict)]
            if tier not in names:
                raise TierNotFound(
                    f"The router '{router.slug}' has no tier '{tier}'. Its tiers: "
                    f"{', '.join(names) or 'none'} (use router:{router.slug}/<tier>)."
                )
            prepared.tier = tier
        return _prepare_router(prepared, router, user=user, workspace_id=workspace_id)
    prepared.model = model
    prepared.policies = _policies_for(workspace_id, None)
    prepared.budgets = budget_specs_for_user(user_id=user.pk, router_id=None)
    return prepared


def _traffic_router(prepared: Prepared, router: Router, *, arm_key: str) -> Router:
    """The version traffic routes with: the published one, or, while an experiment runs, the
    version of the arm this conversation (`arm_key`: the thread, else the user) is in."""
    experiment = experiment_running_for(router_id=router.pk)
    if experiment is None:
        return router_published(router, catalog=prepared.catalog)
    arm = arm_of(experiment_id=experiment.pk, key=arm_key, percent=experiment.percent)
    version = experiment.variant if arm == "variant" else experiment.control
    prepared.experiment = {
        "id": experiment.pk,
        "name": experiment.name,
        "arm": arm,
        "version": version.number,
    }
    return router_at(router, version)


_PREPARED_SIZE = 1024
# (user id, admin?, name) → (config version, monotonic expiry, prepared inputs)
_prepared: OrderedDict[tuple[int, bool, str], tuple[str, float, Prepared]] = OrderedDict()
_prepared_lock = Lock()


async def _prepared_for_name(user: User, name: str) -> Prepared:
    """`/v1`'s hot path reads nothing from the database: what a call needs is prepared once
    per (user, name) and kept in process memory while the routing configuration's version
    token (`routers.config_version`, in the shared cache) is unchanged, and at most
    PLAN_CACHE_SECONDS. Any save of a router, rule, catalog model or provider replaces the
    token; a shared cache that cannot be reached means no copies are trusted."""
    try:
        version: str | None = await config_version.current()
    except Exception:
        log.warning("routing config version unavailable; reading afresh", exc_info=True)
        version = None
    key = (user.pk, user.is_admin_role, name)
    now = clocks.current().monotonic()
    if version is not None:
        with _prepared_lock:
            hit = _prepared.get(key)
        if hit is not None and hit[0] == version and hit[1] > now:
            return hit[2]
    prepared = await run_db(prepare, user=user, name=name)
    if version is not None:
        with _prepared_lock:
            _prepared[key] = (version, now + settings.PLAN_CACHE_SECONDS, prepared)
            _prepared.move_to_end(key)
            while len(_prepared) > _PREPARED_SIZE:
                _prepared.popitem(last=False)
    return prepared


# --- planning ---------------------------------------------------------------------------


def request_of(turns: tuple[Turn, ...], *, system: str = "") -> ChatRequest:
    """The request `turns` would make (attachments by type only: nothing is sent)."""
    return ChatRequest(
        model="",
        messages=tuple(
            ChatMessage(
                role="assistant" if t.role == "assistant" else "user",
                text=t.text,
                images=tuple(
                    ImagePart(mime_type=m, data=b"")
                    for m in t.attachment_types
                    if m.startswith("image/")
                ),
            )
            for t in turns
        ),
        system=system,
    )


def turns_of_messages(messages: tuple[ChatMessage, ...]) -> tuple[Turn, ...]:
    """An API request's messages as turns (images by their type)."""
    return tuple(Turn(m.role, m.text, tuple(i.mime_type for i in m.images)) for m in messages)


def pin_problem(ref: str, *, enabled: Collection[str], back: str) -> str:
    """Why a thread's `/model` pin cannot answer, or "" (it is held to the enabled catalog
    exactly like a per-message pick)."""
    if ref in enabled:
        return ""
    return (
        f"This chat is pinned to {ref}, which is not enabled any more. "
        f"Type /model auto to return to {back}, or pin another model."
    )


def pick_problem(ref: str, *, enabled: Collection[str]) -> str:
    """Why a model picked for one message cannot answer it, or "" (the composer says the
    same when it is sent, the preview and the answer when it was disabled since)."""
    if ref in enabled:
        return ""
    return (
        f"The model {ref} picked for this message is not in the enabled catalog. "
        "Pick another model, or send it without one."
    )


async def plan_message(req: PlanRequest) -> Plan:
    """Plan one message (see the module docstring). Raises Http404 only for a /v1 `name` that
    names nothing this user may use; every other refusal is a plan with `problem` set."""
    if req.name:
        prepared = await _prepared_for_name(req.user, req.name)
    else:
        prepared = await _db(req)(
            prepare,
            user=req.user,
            router=req.router,
            model=req.model,
            workspace_id=req.workspace.id if req.workspace else None,
            published=req.channel != "test",  # traffic routes with the published version
            arm_key=req.thread_key,
        )
    request = req.request or request_of(req.turns)
    plan = await _plan(req, prepared, request)
    plan.req, plan.prepared = req, prepared
    return plan


def _db(req: PlanRequest) -> Callable[..., Awaitable[Any]]:
    """How this request reads the database: /v1 on a worker thread with connections recycled
    (`routerweb.db.run_db`, it skips Django's request signals); the pages on the request's own
    thread-sensitive executor, as the rest of their ORM work."""
    if req.channel == "api":
        return run_db
    return lambda fn, *args, **kwargs: sync_to_async(fn)(*args, **kwargs)


def _refused(prepared: Prepared, request: ChatRequest, facts: RoutingFacts, problem: str) -> Plan:
    return Plan(facts, [], request, prepared.catalog, router=None, primary=None, problem=problem)


def _primary_of(prepared: Prepared) -> CatalogModel | None:
    return prepared.router.primary_model if prepared.router is not None else prepared.model


async def _plan(req: PlanRequest, prepared: Prepared, request: ChatRequest) -> Plan:
    catalog = prepared.catalog
    # What the message goes to: a pick, else a pin, else the router or model.
    fixed: tuple[str, str] | None = None
    if req.pick:
        if problem := pick_problem(req.pick, enabled=catalog):
            return _refused(prepared, request, RoutingFacts("model", req.pick, problem), problem)
        fixed = (req.pick, "Sent to this model for this one message.")
    elif req.pin:
        back = "the router" if prepared.router is not None else "the workspace model"
        if problem := pin_problem(req.pin, enabled=catalog, back=back):
            return _refused(prepared, request, RoutingFacts("override", req.pin), problem)
        fixed = (req.pin, "Manual override (/model): routing bypassed.")
    elif prepared.unusable:
        # Never the router's rules: the user may no longer see them.
        return _refused(prepared, request, RoutingFacts("router"), prepared.unusable)

    router = prepared.router
    # The data policies first: a refused message costs nothing and touches no budget.
    if isinstance(prepared.policies, RuleError):
        guard = policy_error(prepared.policies)
    else:
        guard = policy_apply(prepared.policies, request)
    now = timezone.now()
    budget = BudgetResult()
    if guard.refusal:
        plan = Plan(
            RoutingFacts("policy", reason=guard.refusal),
            [],
            guard.request,
            catalog,
            router=router,
            primary=_primary_of(prepared),
            problem=guard.refusal,
        )
    else:
        router_id = router.pk if router is not None else None
        budget = await budget_check(
            prepared.budgets,
            now=now,
            user_id=req.user.pk,
            workspace_id=req.workspace.id if req.workspace else None,
            token_id=req.token_id,
            router_id=router_id,
        )
        if budget.refusal:
            refused = budget.routing_facts().get("budget")
            plan = Plan(
                RoutingFacts("budget", reason=budget.refusal, budget=refused),
                [],
                guard.request,
                catalog,
                router=router,
                primary=_primary_of(prepared),
                problem=budget.refusal,
            )
        else:
            bound = dataclasses.replace(
                guard, restriction=restriction_merge(guard.restriction, budget.restriction)
            )
            plan = await _choose(req, prepared, bound, fixed)
            await _apply_budget(req, plan, budget, bound, now, compiled=prepared.compiled)
    plan.budget = budget
    if prepared.experiment is not None and plan.router is not None:
        plan.facts = dataclasses.replace(plan.facts, experiment=prepared.experiment)
    policy = guard.routing_facts().get("policy")
    if policy:
        plan.facts = plan.facts.with_policy(policy)
    return plan


async def _apply_budget(
    req: PlanRequest,
    plan: Plan,
    budget: BudgetResult,
    guard: PolicyResult,
    now: datetime,
    *,
    compiled: CompiledRouter | None,
) -> None:
    """Step down past a soft step (to the budget's tier of the routing router, when it names
    one), reserve the estimate (answering surfaces only), say so."""
    if plan.chain:
        refs = [m.ref for m in plan.chain]
        tiers = compiled.tiers if compiled is not None and plan.router is not None else None

        def tier_model(name: str) -> str | None:
            # The tier's model, or the first bound one down its fallback ladder.
            bound = tier_models(tiers or {}, name)
            return bound[0][1] if bound else None

        stepped = budget_step_down(
            refs,
            plan.catalog,
            result=budget,
            restriction=guard.restriction,
            request=plan.request,
            tier_model=tier_model if tiers is not None else None,
        )
        if stepped != refs:
            plan.chain = [plan.catalog[ref] for ref in stepped]
            plan.facts = dataclasses.replace(plan.facts, model=stepped[0])
        if req.answers:
            await budget_admit(budget, stepped, plan.catalog, plan.request, now)
        if budget.refusal:
            plan.chain, plan.problem = [], budget.refusal
    facts = budget.routing_facts().get("budget")
    if facts:
        plan.facts = plan.facts.with_budget(facts)


def _fixed_plan(
    prepared: Prepared,
    guard: PolicyResult,
    ref: str,
    facts: RoutingFacts,
    *,
    router: Router | None,
    primary: CatalogModel | None,
    unavailable: str,
) -> Plan:
    """A chain no rule chose (a pin, a pick, a named or workspace model, an invalid router's
    primary), limited by the policies."""
    catalog = prepared.catalog
    has_image = any(m.images for m in guard.request.messages)
    refs, note = policy_restrict_models(
        [ref] if ref in catalog else [], guard, catalog, has_image=has_image
    )
    if note:
        facts = dataclasses.replace(
            facts, reason=f"{facts.reason} — {note}".lstrip(" —"), model=refs[0] if refs else ""
        )
    chain = [catalog[r] for r in refs]
    problem = ""
    if not chain:
        problem = f"No model can answer this message: {note}." if note else unavailable
    return Plan(
        facts, chain, guard.request, catalog, router=router, primary=primary, problem=problem
    )


async def _choose(
    req: PlanRequest, prepared: Prepared, guard: PolicyResult, fixed: tuple[str, str] | None
) -> Plan:
    router = prepared.router
    if fixed is not None:
        ref, reason = fixed
        return _fixed_plan(
            prepared,
            guard,
            ref,
            RoutingFacts("override", ref, reason),
            router=router,
            primary=_primary_of(prepared) or prepared.catalog.get(ref),
            unavailable=f"The model {ref} is not enabled.",
        )
    if router is None:
        model = prepared.model
        if model is None:
            problem = "This workspace has no model configured."
            return _refused(prepared, guard.request, RoutingFacts("workspace"), problem)
        if req.name:
            facts = RoutingFacts(
                "override",
                model.ref,
                "Model requested directly through the API; no router involved.",
            )
        else:
            facts = RoutingFacts("workspace", model.ref)
        return _fixed_plan(
            prepared,
            guard,
            model.ref,
            facts,
            router=None,
            primary=model,
            unavailable=f"The model {model.ref} is not enabled any more.",
        )
    primary = router.primary_model
    if prepared.compiled is None:
        facts = RoutingFacts(
            "primary",
            primary.ref,
            f"Router is invalid ({prepared.compile_error}); primary model used.",
            router=router.name,
            router_id=router.pk,
            router_version=router.version,
        )
        return _fixed_plan(
            prepared,
            guard,
            primary.ref,
            facts,
            router=router,
            primary=primary,
            unavailable=(
                f"The router “{router.name}” is invalid ({prepared.compile_error}) "
                "and its primary model is not enabled."
            ),
        )
    return await _route(req, prepared, guard, router)


async def _route(req: PlanRequest, prepared: Prepared, guard: PolicyResult, router: Router) -> Plan:
    catalog = prepared.catalog
    compiled = prepared.compiled
    assert compiled is not None
    groups = req.groups
    if groups is None:
        groups = await _db(req)(_groups_of, req.user)
    workspace = req.workspace
    inp = route_input_of(
        req.turns,
        user=req.user.username,
        groups=groups,
        workspace=workspace.name if workspace else "",
        workspace_tags=workspace.tags if workspace else req.workspace_tags,
        workspace_type=workspace.workspace_type if workspace else req.workspace_type,
        now=req.now,
        conversation_tokens=req.conversation_tokens,
        turn_count=req.turn_count,
        user_tier=req.tier or prepared.tier,
        workspace_tier=workspace.tier if workspace else req.workspace_tier,
    )
    # The classifier and the embedder read only what may leave.
    inp = guard.mask_input(inp)
    sticky = await asticky_get(router, req.thread_key) if router.sticky and req.thread_key else None
    pending_llm: tuple[str, ...] = ()
    pending_semantic: tuple[str, ...] = ()
    pending_facets: tuple[str, ...] = ()
    if req.channel == "preview":
        preview = preview_decide(compiled, inp, sticky=sticky, restriction=guard.restriction)
        decision = preview.decision
        pending_llm, pending_semantic = preview.pending_llm_rules, preview.pending_semantic_rules
        pending_facets = preview.pending_facet_rules
    else:
        decision = await aroute(
            compiled,
            inp,
            target=prepared.target,
            sticky=sticky,
            embedder=prepared.embedder,
            restriction=guard.restriction,
        )
    preference = None
    if req.channel != "test":  # the test panel shows the router's own choice
        decision, preference = preference_apply(
            compiled=compiled,
            decision=decision,
            inp=inp,
            restriction=guard.restriction,
            preferences=prepared.preferences,
        )
    chain = [catalog[ref] for ref in decision.chain if ref in catalog]
    problem = "" if chain else f"No model can answer this message: {decision.reason}"
    facts = RoutingFacts.of_decision(decision, router=router)
    if preference is not None:
        facts = dataclasses.replace(facts, preference=preference)
    return Plan(
        facts,
        chain,
        guard.request,
        catalog,
        router=router,
        primary=router.primary_model,
        problem=problem,
        decision=decision,
        pending_llm_rules=pending_llm,
        pending_semantic_rules=pending_semantic,
        pending_facet_rules=pending_facets,
    )


def _groups_of(user: User) -> tuple[str, ...]:
    return tuple(user.groups.values_list("name", flat=True))


# --- settling ---------------------------------------------------------------------------


def outcome_of(plan: Plan, result: ChainResult) -> Outcome:
    """Usage (reported, else estimated), cost, and the cost had the primary model answered."""
    return Outcome(*chain_costs(plan.catalog, plan.primary, plan.request, result))


def settle(
    plan: Plan,
    result: ChainResult,
    *,
    outcome: Outcome | None = None,
    message_id: int | None = None,
) -> Outcome:
    """After the answer (synchronous; never on the answer's path): book what it cost against
    the budgets (every attempt, the classifier and embedding calls), log the routing decision (via
    Celery, see decisions.log) and remember a sticky rule. `outcome` defaults to
    `outcome_of(plan, result)`; the chat passes its own (a continued answer adds the earlier
    part). A decision is logged when a router was involved, and for every /v1 call."""
    req = plan.req
    assert req is not None and req.answers, "only an answering plan is settled"
    outcome = outcome or outcome_of(plan, result)
    router = plan.router
    workspace_id = req.workspace.id if req.workspace else None
    try:
        budget_settle(
            plan.budget,
            cost=outcome.cost + routing_calls_cost(plan.facts, router, plan.catalog),
            created_at=timezone.now(),
            user_id=req.user.pk,
            workspace_id=workspace_id,
            token_id=req.token_id,
            router_id=router.pk if router is not None else None,
            channel=req.channel,
        )
    except Exception:  # the answer is out; the decision must still be logged
        log.exception("could not book the cost of %s", plan.uid)
    if router is None and req.channel != "api":
        return outcome
    usage = outcome.usage
    ids: dict[str, Any] = {"user_id": req.user.pk, "uid": plan.uid}
    if req.channel == "chat":
        ids.update(workspace_id=workspace_id, message_id=message_id)
    decision_log(
        answer_payload(
            facts=plan.facts,
            result=result,
            router=router,
            input_tokens=usage.input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            cost=outcome.cost,
            primary_cost=outcome.primary_cost,
            channel=req.channel,
            **ids,
        )
    )
    facts = plan.facts
    if (
        router is not None
        and router.sticky
        and req.thread_key
        and facts.source == "rule"
        and facts.rule_id is not None
        and result.complete
        and result.answered_by
    ):
        async_to_sync(asticky_set)(
            router, req.thread_key, rule_id=facts.rule_id, model_ref=result.answered_by
        )
    return outcome


# --- the test surfaces (test panel, JSON dry-run, `manage.py route`) --------------------


def panel_request(
    *,
    router: Router,
    user: User,
    text: str,
    has_image: bool = False,
    conversation_tokens: int | None = None,
    turns: int | None = None,
    time_of_day: str | None = None,
    earlier: tuple[tuple[str, str], ...] = (),
    workspace_type: str = "",
    workspace_tags: tuple[str, ...] = (),
    tier: str = "",
    workspace_tier: str = "",
) -> PlanRequest:
    """A test surface's request: a typed message (with a pretend image, conversation length,
    time of day in the router's zone, earlier turns as (role, text)) for `router`."""
    return PlanRequest(
        user=user,
        turns=(
            *(Turn(role, said) for role, said in earlier),
            Turn("user", text, ("image/png",) if has_image else ()),
        ),
        router=router,
        tier=tier,
        workspace_tier=workspace_tier,
        channel="test",
        now=at_time_of_day(router, time_of_day) if time_of_day else None,
        conversation_tokens=conversation_tokens,
        turn_count=turns,
        workspace_type=workspace_type,
        workspace_tags=workspace_tags,
    )


def decision_of(plan: Plan) -> dict[str, Any]:
    """A test surface's plan in the engine's `Decision.to_dict()` shape, plus `refusal`: what
    sending would do — the model (None when refused), its chain, the rule, why."""
    facts = plan.facts
    router = plan.router or (plan.req.router if plan.req is not None else None)
    data: dict[str, Any] = {
        "router_id": router.pk if router is not None else None,
        "router_version": router.version if router is not None else 0,
        "source": facts.source,
        "rule_id": facts.rule_id,
        "rule_name": facts.rule_name or None,
        "rule_kind": facts.rule_kind or None,
        "model": facts.model if plan.chain else None,
        "chain": [m.ref for m in plan.chain],
        "skipped": [{"model": ref, "reason": why} for ref, why in facts.skipped],
        "reason": facts.reason if plan.chain or not plan.problem else plan.problem,
        "classifier": dict(facts.classifier) if facts.classifier else None,
        "classifier_called": facts.classifier_called,
        "decision_us": facts.decision_us,
        "embedding": dict(facts.embedding) if facts.embedding else None,
        "profile": dict(facts.profile) if facts.profile else None,
        "tier": facts.tier or None,
        "tier_source": facts.tier_source or None,
        "tier_via": list(facts.tier_via),
        "category": facts.category or None,
        "complexity": facts.complexity or None,
        "verdicts": facts.verdicts(),
        "refusal": "" if plan.chain else plan.problem,
    }
    return data


def plan_sync(req: PlanRequest) -> Plan:
    """`plan_message` for synchronous callers (views, commands)."""
    return async_to_sync(plan_message)(req)
