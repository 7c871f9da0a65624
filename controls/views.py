"""Budgets (admins and managers) and "My spend" (everyone): spend against budget this period."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.db.models import Q, Sum
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chat.models import Workspace
from controls.forms import BudgetForm
from governance.models import Budget, BudgetScope, SpendEntry
from governance.services import budget_delete as budget_delete_service
from governance.services import budget_save
from governance.spend import BudgetSpec, budget_spend_rows, instance_zone, period_bounds
from routers.models import Router
from routerweb.http import HtmxHttpRequest


def _require_manager(request: HtmxHttpRequest) -> None:
    user = request.user
    if not (user.is_admin_role or user.is_manager_role):
        raise PermissionDenied("Only admins and managers manage budgets.")


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
        saved = budget_save(actor=request.user, budget=form.save(commit=False))
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
