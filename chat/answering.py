"""Produce the assistant's answer for a pending message, streaming.

The view calls `answer_events(message_id)` and relays what it yields as server-sent events.
Steps: claim the message (one stream per message), decide which models to try (a manual
override, the workspace's model, or the workspace's router), stream along that chain with the
failure policy, persist the answer with its badge, then log the routing decision via Celery.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection

from chat.models import Message, MessageStatus, Thread
from chat.selectors import plan_request_for
from chat.services import history_for, to_chat_messages
from governance.limits import rate_check, stream_end, stream_start
from planning.planner import Outcome, Plan, plan_message, settle
from providers.adapters.base import ChatRequest, ProviderError, Usage
from providers.failover import ChainResult, Policy, run_chain
from providers.services import chain_costs
from routers.facts import RoutingFacts
from routerweb import shared_cache

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
class Loaded:
    message: Message
    thread: Thread
    history: list[Message]
    request: ChatRequest


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
    return Loaded(message, thread, history, request)


async def _plan(loaded: Loaded) -> Plan:
    thread = loaded.thread
    req = await sync_to_async(plan_request_for)(
        user=thread.owner,
        workspace=thread.workspace,
        thread=thread,
        history=loaded.history,
        pick=loaded.message.routing.get("requested_model") or "",
        request=loaded.request,
    )
    return await plan_message(req)


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
        plan = Plan(
            RoutingFacts("limit", reason=limited.message),
            [],
            loaded.request,
            {},
            problem=limited.message,
        )
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
            candidates = await sync_to_async(plan.candidates)()
            # Closing the chain (aclosing) closes the model's HTTP stream at once: a stopped
            # answer stops costing tokens.
            policy = Policy.current(plan.router.failover_policy if plan.router else None)
            chain = run_chain(candidates, plan.request, result, resume=resume, policy=policy)
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
    answered_by = plan.catalog.get(answering or "")
    regenerated = bool(message.routing.get("regenerated"))
    message.content = result.text
    # `models`: every model whose text is in the answer, in order (the badge names them all);
    # `chain`: the models this answer could have used, for "continue with the next one".
    earlier = resumed or {}
    message.routing = {
        **plan.facts.to_dict(),
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
    # Names this answer's routing decision (the plan logs it under this uid): feedback and
    # regenerations are credited to it.
    message.routing["decision_uid"] = plan.uid
    usage, cost, primary_cost = chain_costs(plan.catalog, plan.primary, plan.request, result)
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
    if plan.req is not None:  # planned (not held back by a rate limit)
        # Booked and logged as the answer stands: a continued answer's earlier part included.
        outcome = Outcome(
            Usage(message.input_tokens, message.output_tokens),
            message.cost or Decimal("0"),
            primary_cost,
        )
        settle(plan, result, outcome=outcome, message_id=message.pk)


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
