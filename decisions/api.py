"""JSON API for the routing log: decisions of routers the caller may edit, and their own."""

from __future__ import annotations

import typing
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Path, Query, Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate
from pydantic import field_validator

from accounts.models import User
from decisions.feedback import AnswerRef, decision_for_completion, feedback_set
from decisions.models import RoutingDecision
from decisions.selectors import decision_list_visible_to
from routers.api import ERRORS, MAX_ID

router = Router(tags=["decisions"])


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined, return-value]


class DecisionFilters(Schema):
    router: int | None = Field(None, ge=1, le=MAX_ID, description="Router id")
    rule: int | None = Field(None, ge=1, le=MAX_ID, description="Rule id")
    model: str | None = Field(
        None, max_length=300, description="Model that answered (provider/model-id)"
    )
    channel: Literal["chat", "api"] | None = None
    source: str | None = Field(
        None,
        max_length=16,
        description="rule, sticky, primary, override, or what refused it: policy, budget",
    )
    tier: str | None = Field(None, max_length=32, description="The tier the turn used")
    category: str | None = Field(None, max_length=32, description="The classifier's category")
    profile: str | None = Field(None, max_length=40, description="The profile that chose the model")
    policy: str | None = Field(
        None, max_length=100, description="A data policy that applied (by name)"
    )
    policy_action: Literal["refuse", "restrict", "mask"] | None = Field(
        None, description="The strongest action of the policies that applied"
    )
    budget_step: Literal["step_down", "listed", "refused"] | None = Field(
        None, description="A budget's step that changed the routing"
    )
    date_from: date | None = Field(None, description="On or after this day (UTC)")
    date_to: date | None = Field(None, description="On or before this day (UTC)")

    @field_validator("model", "source", "tier", "category", "profile", "policy")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("Text may not contain NUL characters.")
        return value


class RoutingDecisionOut(Schema):
    uid: str
    created_at: datetime
    channel: str
    router_id: int | None
    router_version: int
    rule_id: int | None
    rule_name: str
    source: str
    reason: str
    model_ref: str
    answered_by: str
    attempts: list[dict[str, Any]]
    classifier_called: bool
    classifier_latency_ms: float | None
    decision_us: float
    input_tokens: int
    output_tokens: int
    cost: str
    primary_cost: str
    fallback_used: bool
    overridden: bool
    succeeded: bool
    tier: str = Field(description='The tier the turn used ("": none)')
    tier_source: str = Field(description="Why: user, workspace, rule, escalation, default")
    category: str
    complexity: str
    profile: str = Field(description='The profile that chose the model ("": none)')
    policy: str = Field(description="The data policies that applied, by name")
    policy_action: str = Field(description="Their strongest action: refuse, restrict, mask")
    budget: str = Field(description="The budget whose step changed the routing")
    budget_step: str = Field(description="step_down, listed or refused")
    experiment_id: int | None
    arm: str
    user: str | None
    workspace_id: int | None

    @staticmethod
    def resolve_uid(obj: RoutingDecision) -> str:
        return str(obj.uid)

    @staticmethod
    def resolve_cost(obj: RoutingDecision) -> str:
        return str(obj.cost)

    @staticmethod
    def resolve_primary_cost(obj: RoutingDecision) -> str:
        return str(obj.primary_cost)

    @staticmethod
    def resolve_user(obj: RoutingDecision) -> str | None:
        return obj.user.username if obj.user is not None else None


def _resolved_hints(func: Any) -> Any:
    # `paginate` wraps the view in a function of another module, where our string
    # annotations (from __future__ import annotations) cannot be resolved.
    func.__annotations__ = typing.get_type_hints(func, include_extras=True)
    return func


class _Pages(PageNumberPagination):
    class Input(Schema):
        page: int = Field(1, ge=1, le=1_000_000)
        page_size: int | None = Field(None, ge=1, le=200)


@router.get("", response=list[RoutingDecisionOut], summary="Routing decisions, newest first")
@paginate(_Pages, page_size=50, max_page_size=200)
@_resolved_hints
def list_decisions(
    request: HttpRequest, filters: Query[DecisionFilters]
) -> QuerySet[RoutingDecision]:
    qs = decision_list_visible_to(user=_user(request))
    if filters.router is not None:
        qs = qs.filter(router_id=filters.router)
    if filters.rule is not None:
        qs = qs.filter(rule_id=filters.rule)
    if filters.model:
        qs = qs.filter(Q(answered_by=filters.model) | Q(answered_by="", model_ref=filters.model))
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    for column in ("source", "tier", "category", "profile", "policy_action", "budget_step"):
        value = getattr(filters, column)
        if value:
            qs = qs.filter(**{column: value})
    if filters.policy:
        # Several policies may apply to one message: their names are kept comma-separated.
        qs = qs.filter(policy__icontains=filters.policy)
    zone = timezone.get_current_timezone()
    if filters.date_from is not None:
        qs = qs.filter(created_at__gte=datetime.combine(filters.date_from, time.min, tzinfo=zone))
    if filters.date_to is not None:
        qs = qs.filter(created_at__lte=datetime.combine(filters.date_to, time.max, tzinfo=zone))
    return qs.order_by("-created_at", "-id")


# --- feedback on an answer (chat answers carry their decision's uid; /v1 completions' ids) --


class FeedbackIn(Schema):
    rating: Literal["up", "down"] = Field(description="Thumbs up or down")
    reason: str = Field("", max_length=500, description="Why (optional)")

    @field_validator("reason")
    @classmethod
    def _no_nul_reason(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("Text may not contain NUL characters.")
        return value


class FeedbackOut(Schema):
    completion_id: str
    rating: str
    reason: str
    rule_name: str
    model: str


_COMPLETION = Path(
    ...,
    max_length=80,
    description="The completion's id (`chatcmpl-…`, also sent as `x-routerweb-decision`)",
)


def _completion(request: HttpRequest, completion_id: str) -> RoutingDecision:
    decision = decision_for_completion(user=_user(request), completion_id=completion_id)
    if decision is None:
        raise Http404(
            "No completion of yours with this id (a completion is known once its answer ended)."
        )
    return decision


@router.put(
    "/feedback/{completion_id}",
    response={200: FeedbackOut, **ERRORS},
    summary="Rate a completion (thumbs up or down, optional reason)",
)
def feedback_put(
    request: HttpRequest, completion_id: Annotated[str, _COMPLETION], payload: FeedbackIn
) -> FeedbackOut:
    decision = _completion(request, completion_id)
    feedback = feedback_set(
        user=_user(request),
        answer=AnswerRef.from_decision(decision),
        rating=payload.rating,
        reason=payload.reason,
    )
    assert feedback is not None
    return FeedbackOut(
        completion_id=f"chatcmpl-{decision.uid}",
        rating=feedback.rating,
        reason=feedback.reason,
        rule_name=feedback.rule_name,
        model=feedback.model_ref,
    )


@router.delete(
    "/feedback/{completion_id}",
    response={204: None, **ERRORS},
    summary="Take back your rating of a completion",
)
def feedback_delete(
    request: HttpRequest, completion_id: Annotated[str, _COMPLETION]
) -> Status[None]:
    decision = _completion(request, completion_id)
    feedback_set(user=_user(request), answer=AnswerRef.from_decision(decision), rating="")
    return Status(204, None)
