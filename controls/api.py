"""JSON API for data policies (`/api/policies`) and budgets (`/api/budgets`).

The same services as the pages (governance.services: validation by field, writes audited as
`policy.*` / `budget.*`) and the same rule for who may do what (controls.access): policies by
scope — the instance's are the admins', a workspace's whoever manages it, a router's whoever
may edit it; budgets are the admins' and managers' (others read the budgets that bind them).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from accounts.models import ApiToken, User
from chat.models import Workspace
from controls.access import (
    budget_require_manager,
    policies_visible_to,
    policy_can_create,
    policy_can_manage,
    policy_for,
    policy_may_target,
)
from governance.models import Budget, BudgetScope, Policy
from governance.services import (
    MAX_BUDGET_LIMIT,
    budget_delete,
    budget_save,
    policy_delete,
    policy_save,
)
from governance.spend import BudgetSpec, budget_spend_rows
from providers.models import CatalogModel
from routers.api import ERRORS, MAX_ID, NOT_SENT, In, api_user
from routers.models import Router as RouterRow

policies = Router(tags=["policies"])
budgets = Router(tags=["budgets"])

Id = Annotated[int, Field(ge=1, le=MAX_ID)]


# --- policies ---------------------------------------------------------------------------------


class PolicyIn(In):
    # Types and lengths only: detectors, patterns (RE2), keywords, the action's needs and the
    # approved models are checked by the service, in the words the page shows.
    name: str = Field(min_length=1, max_length=100)
    enabled: bool = True
    scope: Literal["instance", "workspace", "router"] = Field(
        "instance", description="Everyone (admins only), a workspace or a router"
    )
    workspace_id: Id | None = Field(None, description="For scope workspace")
    router_id: Id | None = Field(None, description="For scope router")
    detectors: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="email, phone, card, iban, secret (see the Policies page)",
    )
    patterns: str = Field("", max_length=20_000, description="RE2 patterns, one per line")
    keywords: str = Field("", max_length=20_000, description="Keywords, one per line")
    action: Literal["restrict", "refuse", "mask"] = "restrict"
    approved: list[Annotated[str, Field(max_length=300)]] = Field(
        default_factory=list, max_length=100, description="Model refs for restrict, in order"
    )


class PolicyPatch(In):
    """Only the fields sent change; `workspace_id` and `router_id` may be null."""

    name: str = Field(NOT_SENT, min_length=1, max_length=100)
    enabled: bool = Field(NOT_SENT)
    scope: Literal["instance", "workspace", "router"] = Field(NOT_SENT)
    workspace_id: Id | None = None
    router_id: Id | None = None
    detectors: list[str] = Field(NOT_SENT, max_length=20)
    patterns: str = Field(NOT_SENT, max_length=20_000)
    keywords: str = Field(NOT_SENT, max_length=20_000)
    action: Literal["restrict", "refuse", "mask"] = Field(NOT_SENT)
    approved: list[Annotated[str, Field(max_length=300)]] = Field(NOT_SENT, max_length=100)


class PolicyOut(Schema):
    id: int
    name: str
    enabled: bool
    scope: str
    workspace_id: int | None
    router_id: int | None
    detectors: list[str]
    patterns: str
    keywords: str
    action: str
    approved: list[str]
    can_edit: bool
    created_at: datetime
    updated_at: datetime


def _policy_out(policy: Policy, user: User) -> dict[str, Any]:
    return {
        "id": policy.pk,
        "name": policy.name,
        "enabled": policy.enabled,
        "scope": policy.scope,
        "workspace_id": policy.workspace_id,
        "router_id": policy.router_id,
        "detectors": list(policy.detectors or []),
        "patterns": policy.patterns,
        "keywords": policy.keywords,
        "action": policy.action,
        "approved": list(policy.approved or []),
        "can_edit": policy_can_manage(user, policy),
        "created_at": policy.created_at,
        "updated_at": policy.updated_at,
    }


def _policy_catalog() -> set[str]:
    return {
        m.ref
        for m in CatalogModel.objects.filter(enabled=True, provider__enabled=True).select_related(
            "provider"
        )
    }


def _save_policy(user: User, policy: Policy) -> Policy:
    policy_may_target(user, policy)
    return policy_save(actor=user, policy=policy, catalog_refs=_policy_catalog())


@policies.get("", response=list[PolicyOut], summary="Policies that bind you or that you manage")
def list_policies(request: HttpRequest) -> list[dict[str, Any]]:
    user = api_user(request)
    return [_policy_out(p, user) for p in policies_visible_to(user)]


@policies.post("", response={201: PolicyOut, **ERRORS}, summary="Create a policy")
def create_policy(request: HttpRequest, payload: PolicyIn) -> Status[dict[str, Any]]:
    user = api_user(request)
    if not policy_can_create(user):
        raise PermissionDenied(
            "A policy belongs to the instance (admins), a workspace you manage or a router you "
            "may edit: you have none of these yet."
        )
    saved = _save_policy(user, Policy(**payload.dict()))
    return Status(201, _policy_out(saved, user))


@policies.get("/{int:policy_id}", response={200: PolicyOut, **ERRORS}, summary="A policy")
def get_policy(request: HttpRequest, policy_id: int) -> dict[str, Any]:
    user = api_user(request)
    policy = next((p for p in policies_visible_to(user) if p.pk == policy_id), None)
    if policy is None:
        raise Http404("No such policy.")
    return _policy_out(policy, user)


@policies.patch("/{int:policy_id}", response={200: PolicyOut, **ERRORS}, summary="Change a policy")
def update_policy(request: HttpRequest, policy_id: int, payload: PolicyPatch) -> dict[str, Any]:
    user = api_user(request)
    policy = policy_for(user, policy_id)
    for field, value in payload.dict(exclude_unset=True).items():
        setattr(policy, field, value)
    return _policy_out(_save_policy(user, policy), user)


@policies.delete("/{int:policy_id}", response={204: None, **ERRORS}, summary="Delete a policy")
def delete_policy(request: HttpRequest, policy_id: int) -> Status[None]:
    user = api_user(request)
    policy_delete(actor=user, policy=policy_for(user, policy_id))
    return Status(204, None)


# --- budgets ----------------------------------------------------------------------------------


class BudgetIn(In):
    # Types only: the target, the limit's range, the step and the listed models are checked
    # by the service (governance.services.budget_validate), as on the page.
    name: str = Field(max_length=100)
    enabled: bool = True
    scope: Literal["user", "workspace", "token", "router"]
    user_id: Id | None = Field(None, description="For scope user: the person's id")
    token_id: Id | None = Field(None, description="For scope token: the API token's id")
    workspace_id: Id | None = Field(None, description="For scope workspace")
    router_id: Id | None = Field(None, description="For scope router")
    period: Literal["day", "week", "month"] = "month"
    limit: Decimal = Field(description="USD, from 0.01 to 99,999,999", max_digits=20)
    step_percent: int | None = Field(
        None, description="Step down from this share of the limit (1–99); null: no step"
    )
    step_tier: str = Field(
        "", max_length=32, description="Past the step, route as if this tier were chosen"
    )
    over_action: Literal["refuse", "listed"] = Field(
        "refuse", description="Over the limit: refuse, or allow only the listed models"
    )
    allowed: list[Annotated[str, Field(max_length=300)]] = Field(
        default_factory=list, max_length=100, description="Model refs allowed over the limit"
    )


class BudgetPatch(In):
    """Only the fields sent change; targets and `step_percent` may be null."""

    name: str = Field(NOT_SENT, max_length=100)
    enabled: bool = Field(NOT_SENT)
    scope: Literal["user", "workspace", "token", "router"] = Field(NOT_SENT)
    user_id: Id | None = None
    token_id: Id | None = None
    workspace_id: Id | None = None
    router_id: Id | None = None
    period: Literal["day", "week", "month"] = Field(NOT_SENT)
    limit: Decimal = Field(NOT_SENT, max_digits=20)
    step_percent: int | None = None
    step_tier: str = Field(NOT_SENT, max_length=32)
    over_action: Literal["refuse", "listed"] = Field(NOT_SENT)
    allowed: list[Annotated[str, Field(max_length=300)]] = Field(NOT_SENT, max_length=100)


class BudgetOut(Schema):
    id: int
    name: str
    enabled: bool
    scope: str
    user_id: int | None
    token_id: int | None
    workspace_id: int | None
    router_id: int | None
    period: str
    limit: str
    step_percent: int | None
    step_tier: str
    over_action: str
    allowed: list[str]
    spent: str = Field(description="Spent this period, e.g. $8.5000")
    percent: int = Field(description="Spent as a share of the limit, in %")
    period_start: datetime
    period_end: datetime


def _budget_outs(rows: list[Budget]) -> list[dict[str, Any]]:
    spend = budget_spend_rows([BudgetSpec.of(b) for b in rows], timezone.now())
    return [
        {
            "id": b.pk,
            "name": b.name,
            "enabled": b.enabled,
            "scope": b.scope,
            "user_id": b.user_id,
            "token_id": b.token_id,
            "workspace_id": b.workspace_id,
            "router_id": b.router_id,
            "period": b.period,
            "limit": str(b.limit),
            "step_percent": b.step_percent,
            "step_tier": b.step_tier,
            "over_action": b.over_action,
            "allowed": list(b.allowed or []),
            "spent": row["spent"],
            "percent": row["percent"],
            "period_start": row["start"],
            "period_end": row["end"],
        }
        for b, row in zip(rows, spend, strict=True)
    ]


def _budgets_visible_to(user: User) -> list[Budget]:
    """Admins and managers: every budget. Others: the budgets that bind them (their own,
    their tokens', their workspaces'), as on "My spend"."""
    qs = Budget.objects.order_by("name", "pk")
    if user.is_admin_role or user.is_manager_role:
        return list(qs)
    workspace_ids = list(Workspace.objects.filter(members=user).values_list("pk", flat=True))
    return list(
        qs.filter(
            Q(scope=BudgetScope.USER, user=user)
            | Q(scope=BudgetScope.TOKEN, token__user=user)
            | Q(scope=BudgetScope.WORKSPACE, workspace_id__in=workspace_ids)
        )
    )


def _targets_exist(budget: Budget) -> None:
    """422 for a target id that names nothing (the page only offers existing ones)."""
    errors: dict[str, list[str]] = {}
    if budget.user_id is not None and not User.objects.filter(pk=budget.user_id).exists():
        errors["user_id"] = ["No person has this id."]
    if (
        budget.token_id is not None
        and not ApiToken.objects.filter(pk=budget.token_id, revoked_at__isnull=True).exists()
    ):
        errors["token_id"] = ["No API token in use has this id."]
    if (
        budget.workspace_id is not None
        and not Workspace.objects.filter(pk=budget.workspace_id).exists()
    ):
        errors["workspace_id"] = ["No workspace has this id."]
    if budget.router_id is not None and not RouterRow.objects.filter(pk=budget.router_id).exists():
        errors["router_id"] = ["No router has this id."]
    if errors:
        raise ValidationError(errors)


def _save_budget(user: User, budget: Budget) -> Budget:
    limit = budget.limit
    if isinstance(limit, Decimal) and limit.is_finite() and 0 < limit <= MAX_BUDGET_LIMIT:
        budget.limit = limit.quantize(Decimal("0.0001"))  # the column's four places
    budget.step_tier = (budget.step_tier or "").strip()
    _targets_exist(budget)
    refs = {m.ref for m in CatalogModel.objects.filter(enabled=True).select_related("provider")}
    try:
        return budget_save(actor=user, budget=budget, catalog_refs=refs)
    except ValidationError as exc:  # located at the API's field names
        renamed = {"user": "user_id", "token": "token_id"}
        raise ValidationError(
            {renamed.get(field, field): messages for field, messages in exc.message_dict.items()}
        ) from None


def _budget_for(user: User, budget_id: int) -> Budget:
    budget = next((b for b in _budgets_visible_to(user) if b.pk == budget_id), None)
    if budget is None:
        raise Http404("No such budget.")
    return budget


@budgets.get("", response=list[BudgetOut], summary="Budgets, with spend this period")
def list_budgets(request: HttpRequest) -> list[dict[str, Any]]:
    return _budget_outs(_budgets_visible_to(api_user(request)))


@budgets.post("", response={201: BudgetOut, **ERRORS}, summary="Create a budget")
def create_budget(request: HttpRequest, payload: BudgetIn) -> Status[dict[str, Any]]:
    user = api_user(request)
    budget_require_manager(user)
    saved = _save_budget(user, Budget(**payload.dict()))
    return Status(201, _budget_outs([saved])[0])


@budgets.get("/{int:budget_id}", response={200: BudgetOut, **ERRORS}, summary="A budget")
def get_budget(request: HttpRequest, budget_id: int) -> dict[str, Any]:
    return _budget_outs([_budget_for(api_user(request), budget_id)])[0]


@budgets.patch("/{int:budget_id}", response={200: BudgetOut, **ERRORS}, summary="Change a budget")
def update_budget(request: HttpRequest, budget_id: int, payload: BudgetPatch) -> dict[str, Any]:
    user = api_user(request)
    budget_require_manager(user)
    budget = _budget_for(user, budget_id)
    for field, value in payload.dict(exclude_unset=True).items():
        setattr(budget, field, value)
    return _budget_outs([_save_budget(user, budget)])[0]


@budgets.delete("/{int:budget_id}", response={204: None, **ERRORS}, summary="Delete a budget")
def delete_budget(request: HttpRequest, budget_id: int) -> Status[None]:
    user = api_user(request)
    budget_require_manager(user)
    budget_delete(actor=user, budget=_budget_for(user, budget_id))
    return Status(204, None)
