"""Produce the assistant's answer for a pending message, streaming.

The view calls `answer_events(message_id)` and relays what it yields as server-sent events.
Steps: claim the message (one stream per message), decide which models to try (a manual
override, the workspace's model, or the workspace's router), stream along that chain with the
failure policy, persist the answer with its badge, then log the routing decision via Celery.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection

from chat.models import Message, MessageStatus, Thread
from chat.selectors import thread_pin_problem
from chat.services import history_for, to_chat_messages
from decisions.log import answer_payload, decision_log
from engine import RuleError
from governance.limits import rate_check, stream_end, stream_start
from governance.selectors import policy_set_for
from governance.spend import budget_specs_for_user
from providers.adapters.base import ChatRequest, ProviderError
from providers.failover import ChainResult, Policy, run_chain
from providers.models import CatalogModel
from providers.selectors import catalog_list_enabled
from providers.services import candidates_for, chain_costs
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
from routers.compiling import compiled_router_for
from routers.policies import PolicyResult, policy_apply, policy_error, policy_restrict_models
from routers.routing import (
    aroute,
    asticky_get,
    asticky_set,
    classifier_target_for,
    decision_facts,
    route_input_for_chat,
)
from routers.selectors import router_can_use, router_unavailable_message
from routers.semantic import semantic_embedder_for
from routerweb import shared_cache

if TYPE_CHECKING:
    from routers.models import Router

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Finished:
    message_id: int
    # Set when the answer could not be stored as it ended (the database connection was lost):
    # the stream tells the client so, instead of ending silently.
    error: str = ""
    # True when this stream did not answer the message (another stream has it, or had it).
    not_claimed: bool = False


AnswerEvent = Delta | Finished


@dataclass
class Plan:
    """Which models to try, in order, and the routing facts to show with the answer."""

    chain: list[CatalogModel]
    routing: dict
    decision: object | None = None  # engine.Decision when a router decided
    router: Router | None = None
    primary: CatalogModel | None = None
    problem: str = ""
    catalog: dict[str, CatalogModel] = field(default_factory=dict)
    budget: BudgetResult | None = None


@dataclass
class Loaded:
    message: Message
    thread: Thread
    history: list[Message]
    request: ChatRequest
    catalog: dict[str, CatalogModel]


def _load(message_id: int) -> Loaded:
    message = Message.objects.select_related(
        "thread__owner",
        "thread__workspace__model__provider",
        "thread__workspace__router__primary_model__provider",
        "thread__workspace__router__classifier_model__provider",
        "thread__override_model__provider",
    ).get(pk=message_id)
    thread = message.thread
    history = history_for(message)
    request = ChatRequest(
        model="", messages=to_chat_messages(history), system=thread.workspace.system_prompt
    )
    catalog = {m.ref: m for m in catalog_list_enabled()}
    return Loaded(message, thread, history, request, catalog)


def _policies(loaded: Loaded) -> PolicyResult:
    """The policy step of planning (routers.policies), for this workspace and its router."""

    thread = loaded.thread
    router = _router_of(thread)
    try:
        policies = policy_set_for(
            workspace_id=thread.workspace_id, router_id=router.pk if router else None
        )
    except RuleError as exc:
        return policy_error(exc)
    return policy_apply(policies, loaded.request)


def _with_policy(plan: Plan, guard: PolicyResult) -> Plan:
    """Badge and log say which policy applied (never what it matched)."""
    facts = guard.routing_facts()
    if facts:
        plan.routing.update(facts)
        summary = facts["policy"]["summary"]
        reason = plan.routing.get("reason") or ""
        plan.routing["reason"] = f"{reason} · {summary}" if reason else summary.capitalize()
    return plan


async def _plan(loaded: Loaded) -> Plan:
    guard = await sync_to_async(_policies)(loaded)
    thread = loaded.thread
    if guard.refusal:
        return _with_policy(
            Plan(
                [],
                {"source": "policy", "reason": guard.refusal},
                router=_router_of(thread),
                primary=_primary_of(thread),
                problem=guard.refusal,
            ),
            guard,
        )
    loaded.request = guard.request  # masked where a policy masks: what leaves
    budget = await _budget_check(loaded)
    if budget.refusal:
        plan = Plan(
            [],
            {"source": "budget", "reason": budget.refusal},
            router=_router_of(thread),
            primary=_primary_of(thread),
            problem=budget.refusal,
        )
    else:
        bound = dataclasses.replace(
            guard, restriction=restriction_merge(guard.restriction, budget.restriction)
        )
        plan = await _plan_unguarded(loaded, bound)
        await _budget_apply(loaded, plan, budget, bound)
    plan.budget = budget
    return _with_policy(plan, guard)


async def _budget_check(loaded: Loaded) -> BudgetResult:
    from django.utils import timezone

    thread = loaded.thread
    router = _router_of(thread)
    router_id = router.pk if router is not None else None
    specs = await sync_to_async(budget_specs_for_user)(user_id=thread.owner_id, router_id=router_id)
    return await budget_check(
        specs,
        now=timezone.now(),
        user_id=thread.owner_id,
        workspace_id=thread.workspace_id,
        router_id=router_id,
    )


async def _budget_apply(
    loaded: Loaded, plan: Plan, budget: BudgetResult, guard: PolicyResult
) -> None:
    """Step down past a soft step, reserve the estimate, say so in the routing facts."""
    from django.utils import timezone

    refs = [m.ref for m in plan.chain]
    stepped = budget_step_down(
        refs, loaded.catalog, result=budget, restriction=guard.restriction, request=loaded.request
    )
    if stepped != refs:
        plan.chain = [loaded.catalog[ref] for ref in stepped]
        plan.routing["model"] = stepped[0]
    await budget_admit(budget, stepped, loaded.catalog, loaded.request, timezone.now())
    if budget.refusal:
        plan.chain = []
        plan.problem = budget.refusal
    with_budget_reason(plan.routing, budget)


def _fixed(
    loaded: Loaded, guard: PolicyResult, model: CatalogModel, routing: dict, **kwargs: object
) -> Plan:
    """A chain no router chose (override, single-model workspace), limited by the policy."""

    has_image = any(m.images for m in loaded.request.messages)
    refs, note = policy_restrict_models([model.ref], guard, loaded.catalog, has_image=has_image)
    if not note:
        return Plan([model], routing, **kwargs)  # type: ignore[arg-type]
    chain = [loaded.catalog[ref] for ref in refs]
    routing = {**routing, "reason": f"{routing.get('reason', '')} — {note}".lstrip(" —")}
    if chain:
        routing["model"] = chain[0].ref
    problem = "" if chain else f"No model can answer this message: {note}."
    return Plan(chain, routing, problem=problem, **kwargs)  # type: ignore[arg-type]


async def _plan_unguarded(loaded: Loaded, guard: PolicyResult) -> Plan:
    thread = loaded.thread
    model: CatalogModel | None
    requested = loaded.message.routing.get("requested_model")
    if requested and requested in loaded.catalog:
        model = loaded.catalog[requested]
        return _fixed(
            loaded,
            guard,
            model,
            {
                "source": "override",
                "model": model.ref,
                "reason": "Sent to this model for this one message.",
            },
            router=_router_of(thread),
            primary=_primary_of(thread),
        )
    if thread.override_model is not None:
        model = thread.override_model
        if pinned := thread_pin_problem(thread=thread, enabled_refs=loaded.catalog):
            return Plan([], {"source": "override", "model": model.ref}, problem=pinned)
        return _fixed(
            loaded,
            guard,
            model,
            {
                "source": "override",
                "model": model.ref,
                "reason": "Manual override (/model): routing bypassed.",
            },
            router=_router_of(thread),
            primary=_primary_of(thread),
        )
    workspace = thread.workspace
    if workspace.mode == "router" and workspace.router is not None:
        router = workspace.router
        if not router_can_use(user=thread.owner, router=router):
            return Plan([], {"source": "router"}, problem=router_unavailable_message(router))
        return await _plan_with_router(loaded, router, guard)
    model = workspace.model
    if model is None:
        return Plan([], {"source": "workspace"}, problem="This workspace has no model configured.")
    return _fixed(loaded, guard, model, {"source": "workspace", "model": model.ref})


def _router_of(thread: Thread):
    workspace = thread.workspace
    return workspace.router if workspace.mode == "router" else None


def _primary_of(thread: Thread) -> CatalogModel | None:
    router = _router_of(thread)
    return router.primary_model if router is not None else thread.workspace.model


async def _plan_with_router(loaded: Loaded, router, guard: PolicyResult) -> Plan:

    try:
        compiled = await sync_to_async(compiled_router_for)(router)
    except RuleError as exc:
        primary = router.primary_model
        return _fixed(
            loaded,
            guard,
            primary,
            {
                "source": "primary",
                "router": router.name,
                "reason": f"Router is invalid ({exc.message}); primary model used.",
            },
            router=router,  # logged like any routed answer, as /v1 does
            primary=primary,
        )
    target = await sync_to_async(classifier_target_for)(router)
    inp = await sync_to_async(route_input_for_chat)(thread=loaded.thread, history=loaded.history)
    inp = guard.mask_input(inp)
    sticky = await asticky_get(router, f"thread:{loaded.thread.pk}") if router.sticky else None
    embedder = await sync_to_async(semantic_embedder_for)(router) if compiled.has_semantic else None
    decision = await aroute(
        compiled,
        inp,
        target=target,
        sticky=sticky,
        embedder=embedder,
        restriction=guard.restriction,
    )
    chain = [loaded.catalog[ref] for ref in decision.chain if ref in loaded.catalog]
    routing = {
        **decision_facts(router, decision),
        "verdicts": [v.to_dict() for v in decision.verdicts],
    }
    problem = "" if chain else f"No model can answer this message: {decision.reason}"
    return Plan(
        chain,
        routing,
        decision=decision,
        router=router,
        primary=router.primary_model,
        problem=problem,
    )


async def _claim(message_id: int) -> bool:
    # Only one stream may answer a message: EventSource reconnects must not call the model twice.
    updated = await Message.objects.filter(pk=message_id, status=MessageStatus.PENDING).aupdate(
        status=MessageStatus.STREAMING
    )
    return updated == 1


STOPPED_ERROR = "Stopped by you."
_STOP_TTL = 3600.0  # seconds; longer than any answer streams


def _stop_key(message_id: int) -> str:
    return f"chat:stop:{message_id}"


async def answer_stop(message_id: int) -> None:
    """Ask the stream answering `message_id` to stop (it may run in another process)."""
    await shared_cache.set(_stop_key(message_id), "1", _STOP_TTL)


async def _stop_requested(message_id: int) -> bool:
    try:
        return await shared_cache.get(_stop_key(message_id)) is not None
    except Exception:  # a cache outage must not end answers; the user can reload instead
        log.warning("could not read the stop flag of message %s", message_id, exc_info=True)
        return False


async def answer_events(message_id: int) -> AsyncIterator[AnswerEvent]:
    if not await _claim(message_id):
        yield Finished(message_id, not_claimed=True)
        return
    loaded = await sync_to_async(_load)(message_id)
    owner_id = loaded.thread.owner_id
    limited = await rate_check(user_id=owner_id)
    if limited is None:
        limited = await stream_start(owner_id)
        slot = limited is None
    else:
        slot = False
    if limited is not None:
        # Nothing is planned (no classifier call, no budget reservation); the message stays.
        plan = Plan([], {"source": "limit", "reason": limited.message}, problem=limited.message)
    else:
        try:
            plan = await _plan(loaded)
        except BaseException:
            await stream_end(owner_id)
            raise
    result = ChainResult()
    stopped = await _stop_requested(message_id)
    # Continuing an answer cut off earlier (services.message_continue): its text is shown
    # again first, and the chain is asked to continue it.
    resumed: dict | None = loaded.message.routing.get("continue_from")
    resume = resumed["text"] if resumed else ""
    # Kept however this ends (even stopped before any model is asked).
    result.text = resume
    if resume:
        yield Delta(resume)
    try:
        if stopped:
            pass
        elif plan.chain:
            candidates = await sync_to_async(candidates_for)(plan.chain)
            # Closing the chain (aclosing) closes the model's HTTP stream at once: a stopped
            # answer stops costing tokens.
            policy = Policy.current(plan.router.failover_policy if plan.router else None)
            chain = run_chain(candidates, loaded.request, result, resume=resume, policy=policy)
            async with aclosing(chain) as texts:
                async for text in texts:
                    yield Delta(text)
                    if await _stop_requested(message_id):
                        stopped = True
                        break
        else:
            result.error = ProviderError("bad_request", plan.problem or "No model to answer.")
    finally:
        if slot:
            await stream_end(owner_id)
        problem = await sync_to_async(_finish_safely)(
            loaded, plan, result, stopped=stopped, resumed=resumed
        )
        if stopped:
            await shared_cache.delete(_stop_key(message_id))
    yield Finished(message_id, error=problem)


DB_LOST_ERROR = (
    "The connection to the database was lost while answering; the text received is kept."
)


def _finish_safely(
    loaded: Loaded,
    plan: Plan,
    result: ChainResult,
    *,
    stopped: bool,
    resumed: dict | None = None,
) -> str:
    """`_finish`, surviving a database connection that died while the model streamed (a
    PostgreSQL restart or failover, an idle-connection killer): the broken connection is
    dropped and the message is stored on a fresh one as failed, its text kept, and its
    decision logged. Returns "" or what went wrong, for the stream to say."""
    try:
        _finish(loaded, plan, result, stopped=stopped, resumed=resumed)
        return ""
    except DatabaseError:
        log.warning("database error storing message %s; retrying", loaded.message.pk, exc_info=True)
    _drop_connection()
    try:
        _finish(loaded, plan, result, stopped=stopped, resumed=resumed, db_lost=True)
    except DatabaseError:
        log.exception("could not store message %s", loaded.message.pk)
        _drop_connection()
        return "The answer could not be saved: the database is unavailable."
    return DB_LOST_ERROR


def _drop_connection() -> None:
    # The next query opens a new connection instead of reusing the dead one.
    with contextlib.suppress(Exception):
        connection.close()


def _finish(
    loaded: Loaded,
    plan: Plan,
    result: ChainResult,
    *,
    stopped: bool = False,
    resumed: dict | None = None,
    db_lost: bool = False,
) -> None:
    message = loaded.message
    answering = result.answered_by
    if answering is None and resumed and resumed.get("models"):
        answering = resumed["models"][-1]  # whose text the cut answer still shows
    if stopped and answering is None and result.attempts:
        # The model that was streaming when the user stopped it answered this far.
        answering = result.attempts[-1]["model"]
    answered_by = loaded.catalog.get(answering or "")
    regenerated = bool(message.routing.get("regenerated"))
    message.content = result.text
    # `models`: every model whose text is in the answer, in order (the badge names them all);
    # `chain`: the models this answer could have used, for "continue with the next one".
    earlier = resumed or {}
    message.routing = {
        **plan.routing,
        "attempts": [*earlier.get("attempts", []), *result.attempts],
        "models": [*earlier.get("models", []), *result.models],
        "chain": list(dict.fromkeys([*earlier.get("chain", []), *(m.ref for m in plan.chain)])),
    }
    if resumed:
        message.routing["continued"] = True
    if regenerated:
        message.routing["regenerated"] = True
    if stopped:
        message.routing["stopped"] = True
    usage, cost, primary_cost = chain_costs(loaded.catalog, plan.primary, loaded.request, result)
    if usage is not None or resumed:
        message.input_tokens = (usage.input_tokens if usage else 0) + earlier.get("input_tokens", 0)
        message.output_tokens = (usage.output_tokens if usage else 0) + earlier.get(
            "output_tokens", 0
        )
        message.usage_estimated = bool(usage and usage.estimated) or earlier.get("estimated", False)
        message.cost = cost + Decimal(earlier.get("cost", "0"))
    if answered_by is not None:
        message.model = answered_by
        message.model_ref = answered_by.ref
    if db_lost:
        message.status = MessageStatus.ERROR
        message.error = DB_LOST_ERROR
    elif stopped:
        message.status = MessageStatus.INCOMPLETE if result.text else MessageStatus.ERROR
        message.error = STOPPED_ERROR
    elif result.complete and answered_by is not None:
        message.status = MessageStatus.COMPLETE
        message.error = ""
    else:
        # Cut off: what was received is kept, marked as such, never passed off as whole.
        message.status = MessageStatus.INCOMPLETE if result.text else MessageStatus.ERROR
        message.error = (
            describe_error(result.error) if result.error else "The answer was interrupted."
        )
        if plan.problem and not result.attempts:
            # Nothing was sent (a policy, a budget, a limit, no model): say why, as is.
            message.error = plan.problem
        if answered_by is None and result.attempts:
            message.model_ref = result.attempts[-1]["model"]
    message.routing["primary_cost"] = str(primary_cost)
    message.save()
    _book(loaded, plan, message)
    if plan.router is not None:
        _log_decision(loaded, plan, result, message, primary_cost)


def _book(loaded: Loaded, plan: Plan, message: Message) -> None:
    """Book what this answer cost against the budgets: every attempt and the classifier."""
    from django.utils import timezone

    cost = (message.cost or Decimal("0")) + classifier_cost(
        plan.routing, plan.router, loaded.catalog
    )
    thread = loaded.thread
    try:
        budget_settle(
            plan.budget,
            cost=cost,
            created_at=timezone.now(),
            user_id=thread.owner_id,
            workspace_id=thread.workspace_id,
            router_id=plan.router.pk if plan.router is not None else None,
            channel="chat",
        )
    except Exception:  # the answer is saved; a booking failure must not lose it
        log.exception("could not book the cost of message %s", message.pk)


def _log_decision(
    loaded: Loaded, plan: Plan, result: ChainResult, message: Message, primary_cost: Decimal
) -> None:

    routing = plan.routing
    workspace = loaded.thread.workspace
    router = plan.router or workspace.router
    decision_log(
        answer_payload(
            routing=routing,
            result=result,
            router=router,
            verdicts=routing.get("verdicts", []),
            input_tokens=message.input_tokens,
            output_tokens=message.output_tokens,
            cost=message.cost,
            primary_cost=primary_cost,
            channel="chat",
            user_id=loaded.thread.owner_id,
            workspace_id=workspace.pk,
            message_id=message.pk,
        )
    )
    if (
        router is not None
        and router.sticky
        and routing.get("source") == "rule"
        and result.complete
        and result.answered_by
    ):
        from asgiref.sync import async_to_sync

        async_to_sync(asticky_set)(
            router,
            f"thread:{loaded.thread.pk}",
            rule_id=routing["rule_id"],
            model_ref=result.answered_by,
        )


def describe_error(error: ProviderError) -> str:
    labels = {
        "rate_limited": "The model is rate-limited",
        "timeout": "The model did not answer in time",
        "unavailable": "The model's service is unavailable",
        "auth": "The provider rejected the API key",
        "bad_request": "The provider rejected the request",
        "context_too_long": "The conversation is too long for this model",
        "content_filter": "The provider refused to answer (content policy)",
        "dropped_stream": "The answer was cut off mid-stream",
    }
    return f"{labels.get(error.kind, 'The model failed')}: {error.message}"
