"""JSON API for the routing log: decisions of routers the caller may edit, and their own."""

from __future__ import annotations

import typing
from datetime import date, datetime, time
from typing import Any, Literal

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.pagination import PageNumberPagination, paginate
from pydantic import field_validator

from accounts.models import User
from decisions.models import RoutingDecision
from decisions.selectors import decision_list_visible_to
from routers.api import MAX_ID

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
    date_from: date | None = Field(None, description="On or after this day (UTC)")
    date_to: date | None = Field(None, description="On or before this day (UTC)")

    @field_validator("model")
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
    zone = timezone.get_current_timezone()
    if filters.date_from is not None:
        qs = qs.filter(created_at__gte=datetime.combine(filters.date_from, time.min, tzinfo=zone))
    if filters.date_to is not None:
        qs = qs.filter(created_at__lte=datetime.combine(filters.date_to, time.max, tzinfo=zone))
    return qs.order_by("-created_at", "-id")
