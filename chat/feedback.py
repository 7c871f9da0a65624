"""Chat's side of feedback: thumbs on an answer, and the events that say a person disagreed
with the router (regenerate, a pin after a routed answer, a message sent to another model than
the router's choice), credited to the routing decision (decisions.feedback). An override may
make a personal preference worth suggesting (preferences.suggestions)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from accounts.models import User
from chat import services
from chat.models import Message, MessageStatus, Thread
from chat.preview import preview_route
from decisions.feedback import AnswerRef, feedback_set, routing_event_record
from decisions.models import EventKind, Feedback
from preferences.suggestions import suggestion_consider

_ROUTED = ("rule", "sticky", "primary")


def answer_ref(message: Message) -> AnswerRef:
    return AnswerRef.from_routing(
        message.routing, model_ref=message.model_ref, message_id=message.pk
    )


def message_rate(*, user: User, message: Message, rating: str, reason: str = "") -> Feedback | None:
    """Thumbs up/down (or "" to take it back) on a finished answer. Raises ValidationError."""
    if message.role != "assistant" or message.status in (
        MessageStatus.PENDING,
        MessageStatus.STREAMING,
    ):
        raise ValidationError("Only a finished answer can be rated.")
    return feedback_set(user=user, answer=answer_ref(message), rating=rating, reason=reason)


def _after(user: User, answer: AnswerRef, to_model: str) -> None:
    if answer.router_id is not None and answer.rule_id is not None and to_model:
        suggestion_consider(user=user, router_id=answer.router_id, rule_id=answer.rule_id)


def message_regenerate_recorded(*, message: Message, model_ref: str = "") -> Message:
    """`services.message_regenerate`, recorded against the answer's routing as it was."""
    answer = answer_ref(message)
    services.message_regenerate(message=message, model_ref=model_ref)
    user = message.thread.owner
    routing_event_record(
        user=user, kind=EventKind.REGENERATE, answer=answer, to_model=model_ref.strip()
    )
    _after(user, answer, model_ref.strip())
    return message


def pin_record(*, thread: Thread, model_ref: str) -> None:
    """The thread was pinned to `model_ref`: an override of the last routed answer, if any."""
    if thread.workspace.mode != "router":
        return
    last = (
        Message.objects.filter(thread=thread, role="assistant")
        .exclude(status__in=[MessageStatus.PENDING, MessageStatus.STREAMING])
        .order_by("-id")
        .first()
    )
    if last is None or last.routing.get("source") not in _ROUTED:
        return
    answer = answer_ref(last)
    if answer.model_ref == model_ref:
        return
    routing_event_record(user=thread.owner, kind=EventKind.PIN, answer=answer, to_model=model_ref)
    _after(thread.owner, answer, model_ref)


def send_to_record(
    *, thread: Thread, text: str, model_ref: str, attachment_types: tuple[str, ...] = ()
) -> None:
    """A message sent to `model_ref` instead of where the router says. What the router would
    have chosen is what the composer showed (calculated rules, no model call); when that is
    still open (an LLM or semantic rule could match) only the model is known, not the rule."""
    workspace = thread.workspace
    if not model_ref or workspace.mode != "router" or workspace.router is None:
        return
    preview = preview_route(
        user=thread.owner,
        workspace=workspace,
        thread=thread,
        text=text,
        attachment_types=attachment_types,
    )
    if not preview.model or preview.source not in _ROUTED or preview.model == model_ref:
        return
    router = workspace.router
    # An LLM or semantic rule could still have matched: the router's choice is not known.
    undecided = bool(preview.pending_llm_rules or preview.pending_semantic_rules)
    rule_id = None if undecided else preview.rule_id
    answer = AnswerRef(
        uid=None,
        router_id=router.pk,
        router_version=router.version,
        rule_id=rule_id,
        rule_name=preview.rule_name if rule_id else "",
        source=preview.source if not undecided else "",
        model_ref=preview.model,
        channel="chat",
    )
    routing_event_record(
        user=thread.owner, kind=EventKind.SEND_TO, answer=answer, to_model=model_ref
    )
    _after(thread.owner, answer, model_ref)
