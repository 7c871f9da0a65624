"""Feedback on answers and what people did about the router's choice, credited to the rule
and model that routed: thumbs up/down (with a reason), regenerations, and overrides (a pin or
a message sent to another model than the router's).

Writes are `feedback_set` and `routing_event_record`; `router_feedback` is the analytics read
(per rule and per model: satisfaction, override rate, regenerate rate); `override_pattern`
is what a user's overrides of one rule add up to (for suggested preferences)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from decisions.analytics import Analytics, _bounds, model_label, route_label
from decisions.models import EventKind, Feedback, Rating, RoutingDecision, RoutingEvent
from decisions.services import storable
from routers.models import Router

REASON_MAX = 500
ROUTED_SOURCES = ("rule", "sticky")


@dataclass(frozen=True)
class AnswerRef:
    """What an answer records about its routing, as feedback and events need it."""

    uid: str | None
    router_id: int | None = None
    router_version: int = 0
    rule_id: int | None = None
    rule_name: str = ""
    source: str = ""
    model_ref: str = ""
    channel: str = "chat"
    message_id: int | None = None

    @classmethod
    def from_routing(cls, routing: dict[str, Any], *, model_ref: str, message_id: int) -> AnswerRef:
        """From a chat answer's stored badge (`Message.routing`)."""
        return cls(
            uid=routing.get("decision_uid") or None,
            router_id=routing.get("router_id"),
            router_version=routing.get("router_version") or 0,
            rule_id=routing.get("rule_id"),
            rule_name=routing.get("rule_name") or "",
            source=routing.get("source") or "",
            model_ref=model_ref or routing.get("model") or "",
            channel="chat",
            message_id=message_id,
        )

    @classmethod
    def from_decision(cls, decision: RoutingDecision) -> AnswerRef:
        return cls(
            uid=str(decision.uid),
            router_id=decision.router_id,
            router_version=decision.router_version,
            rule_id=decision.rule_id,
            rule_name=decision.rule_name,
            source=decision.source,
            model_ref=decision.answered_by or decision.model_ref,
            channel=decision.channel,
            message_id=decision.message_id,
        )


def _ids(answer: AnswerRef) -> dict[str, Any]:
    # A router or rule deleted since the answer keeps its name, not its reference.
    router_id = answer.router_id
    if router_id is not None and not Router.objects.filter(pk=router_id).exists():
        router_id = None
    rule_id = answer.rule_id
    if rule_id is not None and (
        router_id is None or not Router.objects.filter(pk=router_id, rules__pk=rule_id).exists()
    ):
        rule_id = None
    return {"router_id": router_id, "rule_id": rule_id}


def feedback_set(
    *, user: User, answer: AnswerRef, rating: str, reason: str = ""
) -> Feedback | None:
    """Record (or change) the user's thumbs on an answer; `rating` "" takes it back.
    Raises ValidationError on a bad rating or reason; nothing is changed then."""
    if answer.uid is None:
        raise ValidationError("This answer cannot be rated.")
    if rating not in ("", *Rating.values):
        raise ValidationError("Rate an answer up or down.")
    reason = storable(reason.strip())
    if len(reason) > REASON_MAX:
        raise ValidationError(f"Keep the reason under {REASON_MAX} characters.")
    existing = Feedback.objects.filter(decision_uid=answer.uid).first()
    if existing is not None and existing.user_id != user.pk:
        raise ValidationError("This answer was someone else's.")
    if rating == "":
        if existing is not None:
            existing.delete()
        return None
    now = timezone.now()
    if existing is None:
        existing = Feedback(decision_uid=uuid.UUID(answer.uid), user=user, created_at=now)
    existing.rating = rating
    existing.reason = reason
    existing.updated_at = now
    existing.router_version = answer.router_version
    existing.rule_name = answer.rule_name
    existing.source = answer.source
    existing.model_ref = answer.model_ref
    existing.channel = answer.channel
    existing.message_id = answer.message_id
    for key, value in _ids(answer).items():
        setattr(existing, key, value)
    existing.save()
    return existing


def routing_event_record(
    *, user: User, kind: str, answer: AnswerRef, to_model: str = ""
) -> RoutingEvent:
    """Record a regenerate, pin or send-to against the router's choice (`answer`)."""
    if kind not in EventKind.values:
        raise ValueError(f"unknown event kind {kind!r}")
    moved = bool(to_model) and to_model != answer.model_ref
    return RoutingEvent.objects.create(
        kind=kind,
        decision_uid=uuid.UUID(answer.uid) if answer.uid else None,
        user=user,
        router_version=answer.router_version,
        rule_name=answer.rule_name,
        source=answer.source,
        from_model=answer.model_ref,
        to_model=to_model,
        moved=moved,
        channel=answer.channel,
        message_id=answer.message_id,
        created_at=timezone.now(),
        **_ids(answer),
    )


def feedback_for_uids(*, user: User, uids: list[str]) -> dict[str, Feedback]:
    """The user's feedback on these answers, by decision uid (as text)."""
    if not uids:
        return {}
    rows = Feedback.objects.filter(decision_uid__in=uids, user=user)
    return {str(f.decision_uid): f for f in rows}


def decision_for_completion(*, user: User, completion_id: str) -> RoutingDecision | None:
    """A `/v1` completion (`chatcmpl-<uid>` or the bare uid) the user made, if logged."""
    raw = completion_id.removeprefix("chatcmpl-")
    try:
        uid = uuid.UUID(raw)
    except ValueError:
        return None
    return RoutingDecision.objects.filter(uid=uid, user=user).first()


# --- analytics -----------------------------------------------------------------------------


class FeedbackRates:
    """The rates people's reactions give, for any row that counts messages, thumbs,
    regenerates and overrides (a rule's, a model's, an experiment arm's)."""

    messages: int
    up: int
    down: int
    regenerates: int
    overrides: int

    @property
    def ratings(self) -> int:
        return self.up + self.down

    @property
    def satisfaction(self) -> float | None:
        return self.up / self.ratings if self.ratings else None

    @property
    def override_rate(self) -> float | None:
        return self.overrides / self.messages if self.messages else None

    @property
    def regenerate_rate(self) -> float | None:
        return self.regenerates / self.messages if self.messages else None


@dataclass
class FeedbackRow(FeedbackRates):
    """Per rule (or model): messages, thumbs and what people did about them."""

    label: str
    messages: int = 0
    up: int = 0
    down: int = 0
    regenerates: int = 0
    overrides: int = 0
    moved_to: dict[str, int] = field(default_factory=dict)

    @property
    def top_moved_to(self) -> str:
        if not self.moved_to:
            return ""
        return max(self.moved_to.items(), key=lambda kv: (kv[1], kv[0]))[0]


@dataclass(frozen=True)
class FeedbackStats:
    by_rule: list[FeedbackRow]
    by_model: list[FeedbackRow]
    weakest_rule: str  # label of the rule people are least happy with, "" if none stands out

    @property
    def has_signal(self) -> bool:
        return any(r.ratings or r.overrides or r.regenerates for r in self.by_rule)


# A rule needs this many messages before it can be called the weakest.
WEAK_MIN_MESSAGES = 5


def router_feedback(*, stats: Analytics, tz: tzinfo) -> FeedbackStats:
    """Satisfaction, override and regenerate rates per rule and per model over the range of
    the router's analytics `stats` (whose message counts it reuses): two queries."""
    lower, upper = _bounds(stats.start, stats.end, tz)
    in_range = {"router": stats.router, "created_at__gte": lower, "created_at__lt": upper}
    return _stats(
        stats,
        Feedback.objects.filter(**in_range),
        RoutingEvent.objects.filter(**in_range),
    )


def _stats(
    stats: Analytics,
    feedback: QuerySet[Feedback],
    events: QuerySet[RoutingEvent],
) -> FeedbackStats:
    rules: dict[str, FeedbackRow] = {
        row.label: FeedbackRow(row.label, messages=row.messages) for row in stats.by_rule
    }
    models: dict[str, FeedbackRow] = {
        row.label: FeedbackRow(row.label, messages=row.messages) for row in stats.by_model
    }
    unknown = FeedbackRow("")  # a message sent elsewhere before its rule was known

    def rule_row(source: str, rule_name: str) -> FeedbackRow:
        if not source:
            return unknown
        label = route_label(source=source, rule_name=rule_name)
        return rules.setdefault(label, FeedbackRow(label))

    def model_row(ref: str) -> FeedbackRow:
        label = model_label(ref)
        return models.setdefault(label, FeedbackRow(label))

    for row in (
        feedback.values("source", "rule_name", "model_ref", "rating")
        .annotate(n=Count("id"))
        .order_by()
    ):
        for target in (rule_row(row["source"], row["rule_name"]), model_row(row["model_ref"])):
            if row["rating"] == Rating.UP:
                target.up += row["n"]
            else:
                target.down += row["n"]
    for event in (
        events.values("kind", "source", "rule_name", "from_model", "to_model", "moved")
        .annotate(n=Count("id"))
        .order_by()
    ):
        for target in (
            rule_row(event["source"], event["rule_name"]),
            model_row(event["from_model"]),
        ):
            if event["kind"] == EventKind.SEND_TO:
                # Sent elsewhere before the router answered: no decision of this rule was
                # logged for it, yet the router chose the rule for that message.
                target.messages += event["n"]
            if event["kind"] == EventKind.REGENERATE:
                target.regenerates += event["n"]
            if event["moved"]:
                target.overrides += event["n"]
                target.moved_to[event["to_model"]] = (
                    target.moved_to.get(event["to_model"], 0) + event["n"]
                )
    by_rule = sorted(rules.values(), key=lambda r: (-r.messages, r.label))
    by_model = sorted(models.values(), key=lambda r: (-r.messages, r.label))
    return FeedbackStats(by_rule=by_rule, by_model=by_model, weakest_rule=_weakest(by_rule))


def _badness(row: FeedbackRow) -> float:
    """How unhappy people were with a rule: the larger of its override rate, its regenerate
    rate and its share of thumbs down."""
    unhappy = 1 - row.satisfaction if row.satisfaction is not None else 0.0
    return max(row.override_rate or 0.0, row.regenerate_rate or 0.0, unhappy)


def _weakest(rows: list[FeedbackRow]) -> str:
    candidates = [r for r in rows if r.messages >= WEAK_MIN_MESSAGES and _badness(r) > 0]
    if not candidates:
        return ""
    worst = max(candidates, key=lambda r: (_badness(r), r.messages))
    return worst.label


# --- a user's overrides of one rule (suggested preferences) ---------------------------------


@dataclass(frozen=True)
class OverridePattern:
    rule_id: int
    rule_name: str
    messages: int
    model: str
    moved: int
    regenerated: int
    pinned: int
    sent: int

    @property
    def share(self) -> float:
        return self.moved / self.messages if self.messages else 0.0


def override_pattern(*, user: User, router_id: int, rule_id: int) -> OverridePattern | None:
    """The model the user moved this rule's messages to most, with the evidence; None when
    they never moved one. Messages of a rule: answers it routed for the user, plus messages
    the user sent elsewhere while it was the router's choice."""
    events = RoutingEvent.objects.filter(user=user, router_id=router_id, rule_id=rule_id)
    routed = RoutingDecision.objects.filter(
        user=user, router_id=router_id, rule_id=rule_id, source__in=ROUTED_SOURCES
    ).count()
    sent_first = events.filter(kind=EventKind.SEND_TO).count()
    moved = (
        events.filter(moved=True)
        .values("to_model")
        .annotate(
            n=Count("id"),
            regenerated=Count("id", filter=Q(kind=EventKind.REGENERATE)),
            pinned=Count("id", filter=Q(kind=EventKind.PIN)),
            sent=Count("id", filter=Q(kind=EventKind.SEND_TO)),
        )
        .order_by("-n", "to_model")
        .first()
    )
    if moved is None:
        return None
    name = events.order_by("-created_at").values_list("rule_name", flat=True).first() or ""
    return OverridePattern(
        rule_id=rule_id,
        rule_name=name,
        messages=routed + sent_first,
        model=moved["to_model"],
        moved=moved["n"],
        regenerated=moved["regenerated"],
        pinned=moved["pinned"],
        sent=moved["sent"],
    )
