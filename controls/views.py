"""Budgets (admins and managers), "My spend" (everyone) and data policies (admins for the
instance, workspace managers and router editors for theirs)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, Sum
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from chat.models import Workspace
from controls.access import (
    budget_require_manager,
    policies_visible_to,
    policy_can_create,
    policy_can_manage,
    policy_for,
)
from controls.forms import BudgetForm, PolicyForm
from engine.policy import DETECTORS
from governance.models import Budget, BudgetScope, Policy, Scope, SpendEntry
from governance.services import budget_delete as budget_delete_service
from governance.services import budget_save, policy_save
from governance.services import policy_delete as policy_delete_service
from governance.spend import BudgetSpec, budget_spend_rows, instance_zone, period_bounds
from routers.models import Router
from routerweb.http import HtmxHttpRequest


def _require_manager(request: HtmxHttpRequest) -> None:
    budget_require_manager(request.user)


def _targets(budgets: list[Budget]) -> dict[int, str]:
    """What each budget is for, by name (workspaces and routers are kept by id)."""
    workspaces = dict(
        Workspace.objects.filter(
            pk__in=[b.workspace_id for b in budgets if b.workspace_id]
        ).values_list("pk", "name")
    )
    routers = dict(
        Router.objects.filter(pk__in=[b.router_id for b in budgets if b.router_id]).values_list(
            "pk", "name"
        )
    )
    out = {}
    for b in budgets:
        if b.scope == BudgetScope.USER:
            out[b.pk] = f"person {b.user.username}" if b.user else "person (deleted)"
        elif b.scope == BudgetScope.TOKEN:
            out[b.pk] = f"API token {b.token} of {b.token.user.username}" if b.token else "token"
        elif b.scope == BudgetScope.WORKSPACE:
            out[b.pk] = f"workspace {workspaces.get(b.workspace_id or 0, '(deleted)')}"
        else:
            out[b.pk] = f"router {routers.get(b.router_id or 0, '(deleted)')}"
    return out


def _rows(budgets: list[Budget]) -> list[dict[str, Any]]:
    targets = _targets(budgets)
    rows = budget_spend_rows([BudgetSpec.of(b) for b in budgets], timezone.now())
    for row, budget in zip(rows, budgets, strict=True):
        row["budget"] = budget
        row["target"] = targets[budget.pk]
    return rows


@require_GET
def budget_list(request: HtmxHttpRequest) -> HttpResponse:
    _require_manager(request)
    budgets = list(Budget.objects.select_related("user", "token__user"))
    return render(
        request,
        "controls/budgets.html",
        {"rows": _rows(budgets), "zone": instance_zone().key, "nav": "budgets"},
    )


@require_http_methods(["GET", "POST"])
def budget_edit(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
    _require_manager(request)
    budget = get_object_or_404(Budget, pk=pk) if pk is not None else None
    form = BudgetForm(request.POST or None, instance=budget)
    if request.method == "POST" and form.is_valid():
        try:
            saved = budget_save(
                actor=request.user, budget=form.save(commit=False), catalog_refs=form.catalog_refs
            )
        except ValidationError as exc:  # checked by the form already; kept for races
            form.add_error(None, exc)
        else:
            flash.success(request, f"Budget “{saved.name}” saved.")
            return redirect("budget_list")
    return render(
        request,
        "controls/budget_form.html",
        {"form": form, "budget": budget, "nav": "budgets"},
        status=422 if form.errors else 200,
    )


@require_POST
def budget_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    budget = get_object_or_404(Budget, pk=pk)
    budget_delete_service(actor=request.user, budget=budget)
    flash.success(request, f"Budget “{budget.name}” deleted. What was spent stays recorded.")
    return redirect("budget_list")


@require_GET
def my_spend(request: HtmxHttpRequest) -> HttpResponse:
    """A person's own spend this month, and the budgets that bind them."""
    user = request.user
    workspace_ids = list(Workspace.objects.filter(members=user).values_list("pk", flat=True))
    budgets = list(
        Budget.objects.filter(enabled=True)
        .filter(
            Q(scope=BudgetScope.USER, user=user)
            | Q(scope=BudgetScope.TOKEN, token__user=user)
            | Q(scope=BudgetScope.WORKSPACE, workspace_id__in=workspace_ids)
        )
        .select_related("user", "token__user")
    )
    start, end = period_bounds("month", timezone.now(), instance_zone())
    mine = SpendEntry.objects.filter(user_id=user.pk, created_at__gte=start, created_at__lt=end)
    by_channel = {
        row["channel"]: row["total"]
        for row in mine.values("channel").annotate(total=Sum("cost")).order_by()
    }
    return render(
        request,
        "controls/my_spend.html",
        {
            "rows": _rows(budgets),
            "month_total": sum(by_channel.values(), Decimal("0")),
            "by_channel": by_channel,
            "month_start": start,
            "nav": "spend",
        },
    )


# --- policies ---------------------------------------------------------------------------------


def _policy_targets(policies: list[Policy]) -> dict[int, str]:
    workspaces = dict(
        Workspace.objects.filter(
            pk__in=[p.workspace_id for p in policies if p.workspace_id]
        ).values_list("pk", "name")
    )
    routers = dict(
        Router.objects.filter(pk__in=[p.router_id for p in policies if p.router_id]).values_list(
            "pk", "name"
        )
    )
    out = {}
    for p in policies:
        if p.scope == Scope.WORKSPACE:
            name = workspaces.get(p.workspace_id or 0)
            out[p.pk] = f"workspace {name}" if name else "a deleted workspace (never applies)"
        elif p.scope == Scope.ROUTER:
            name = routers.get(p.router_id or 0)
            out[p.pk] = f"router {name}" if name else "a deleted router (never applies)"
        else:
            out[p.pk] = "everyone"
    return out


def _count(n: int, noun: str) -> str:
    return "" if n == 0 else f"{n} {noun}{'' if n == 1 else 's'}"


@require_GET
def policy_list(request: HtmxHttpRequest) -> HttpResponse:
    user = request.user
    policies = policies_visible_to(user)
    targets = _policy_targets(policies)
    rows = [
        {
            "policy": p,
            "target": targets[p.pk],
            "can_edit": policy_can_manage(user, p),
            "finds": [
                found
                for found in [
                    *(DETECTORS.get(k, k) for k in p.detectors or []),
                    _count(len(p.lines("patterns")), "pattern"),
                    _count(len(p.lines("keywords")), "keyword"),
                ]
                if found
            ],
        }
        for p in policies
    ]
    return render(
        request,
        "controls/policies.html",
        {"rows": rows, "can_create": policy_can_create(user), "nav": "policies"},
    )


@require_http_methods(["GET", "POST"])
def policy_edit(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
    if pk is None and not policy_can_create(request.user):
        raise PermissionDenied(
            "A policy belongs to the instance (admins), a workspace you manage or a router you "
            "may edit: you have none of these yet."
        )
    policy = policy_for(request.user, pk) if pk is not None else Policy()
    form = PolicyForm(request.POST or None, instance=policy, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            saved = policy_save(
                actor=request.user, policy=form.save(), catalog_refs=form.catalog_refs
            )
        except ValidationError as exc:  # checked by the form already; kept for races
            form.add_error(None, exc)
        else:
            flash.success(
                request, f"Policy “{saved.name}” saved. It applies from the next message."
            )
            return redirect("policy_list")
    return render(
        request,
        "controls/policy_form.html",
        {"form": form, "policy": policy if policy.pk else None, "nav": "policies"},
        status=422 if form.errors else 200,
    )


@require_POST
def policy_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    policy = policy_for(request.user, pk)
    policy_delete_service(actor=request.user, policy=policy)
    flash.success(request, f"Policy “{policy.name}” deleted.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("policy_list"))
    return redirect("policy_list")
