"""Produce the assistant's answer for a pending message, streaming.

The view calls `answer_events(message_id)` and relays what it yields as server-sent events.
The answer is persisted as it completes, so a reload shows it and a client that disconnects
does not lose what the model already said.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from asgiref.sync import sync_to_async

from chat.models import CatalogModel, Message, MessageStatus, Thread
from chat.providers.base import ChatRequest, ProviderError
from chat.services import AnswerOutcome, estimate_usage, history_for, stream_from_model, to_chat_messages

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Finished:
    message_id: int


AnswerEvent = Delta | Finished


@dataclass
class Plan:
    """Which models to try, in order, and the routing facts to show with the answer."""

    chain: list[CatalogModel]
    routing: dict


def plan_for(thread: Thread) -> Plan:
    """The model chain for this thread: a manual override, else the workspace's model."""
    if thread.override_model is not None:
        return Plan([thread.override_model], {"source": "override", "model": thread.override_model.ref})
    model = thread.workspace.model
    if model is None:
        return Plan([], {"source": "workspace", "reason": "This workspace has no model configured."})
    return Plan([model], {"source": "workspace", "model": model.ref})


def _load(message_id: int) -> tuple[Message, Plan, ChatRequest | None]:
    message = Message.objects.select_related(
        "thread__workspace__model__provider", "thread__override_model__provider"
    ).get(pk=message_id)
    thread = message.thread
    plan = plan_for(thread)
    messages = to_chat_messages(history_for(message))
    request = ChatRequest(model="", messages=messages, system=thread.workspace.system_prompt)
    return message, plan, request


async def _claim(message_id: int) -> bool:
    # Only one stream may answer a message: EventSource reconnects must not call the model twice.
    updated = await Message.objects.filter(pk=message_id, status=MessageStatus.PENDING).aupdate(
        status=MessageStatus.STREAMING
    )
    return updated == 1


async def answer_events(message_id: int) -> AsyncIterator[AnswerEvent]:
    if not await _claim(message_id):
        yield Finished(message_id)
        return
    message, plan, request = await sync_to_async(_load)(message_id)
    outcome = AnswerOutcome()
    try:
        for model in plan.chain:
            attempt_request = ChatRequest(
                model=model.model_id, messages=request.messages, system=request.system
            )
            try:
                async for text in stream_from_model(model, attempt_request, outcome):
                    yield Delta(text)
                outcome.model = model
                outcome.error = None
                outcome.attempts.append({"model": model.ref, "ok": True})
                break
            except ProviderError as exc:
                outcome.error = exc
                outcome.attempts.append({"model": model.ref, "ok": False, "error": exc.kind, "message": exc.message})
                log.warning("model %s failed: %r", model.ref, exc)
                if outcome.text:
                    # Text was already shown: a different model must not silently take over.
                    break
        else:
            if not plan.chain:
                outcome.error = ProviderError("bad_request", plan.routing.get("reason", "No model to answer."))
    finally:
        await sync_to_async(_finish)(message, plan, request, outcome)
    yield Finished(message_id)


def _finish(message: Message, plan: Plan, request: ChatRequest, outcome: AnswerOutcome) -> None:
    message.content = outcome.text
    message.routing = {**plan.routing, "attempts": outcome.attempts}
    if outcome.model is not None and outcome.error is None:
        usage = outcome.usage or estimate_usage(request.messages, request.system, outcome.text)
        message.status = MessageStatus.COMPLETE
        message.model = outcome.model
        message.model_ref = outcome.model.ref
        message.input_tokens = usage.input_tokens
        message.output_tokens = usage.output_tokens
        message.usage_estimated = usage.estimated
        message.cost = outcome.model.cost(usage.input_tokens, usage.output_tokens)
    else:
        error = outcome.error
        message.status = MessageStatus.INCOMPLETE if outcome.text else MessageStatus.ERROR
        message.error = _describe(error) if error else "The answer was interrupted."
        tried = [a for a in outcome.attempts if not a["ok"]]
        if tried:
            message.model_ref = tried[-1]["model"]
    message.save()


def _describe(error: ProviderError) -> str:
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
