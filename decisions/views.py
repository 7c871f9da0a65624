"""A router's analytics page, its CSV export and its decision log.

Analytics show what a router's rules cost and how its traffic is split, so they are for the
people who may change the router (owner; managers on shared routers; admins): anyone else who
can see the router gets a 403, everyone else a 404.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from decisions.analytics import (
    BUDGET_STEP_LABELS,
    DEFAULT_DAYS,
    LOG_FILTERS,
    MAX_DAYS,
    DateRange,
    analytics_range_parse,
    router_analytics,
    router_decision_log,
    router_decision_log_choices,
    router_decision_rows,
    router_time_zone,
)
from decisions.feedback import router_feedback
from governance.models import Budget, BudgetScope
from governance.spend import BudgetSpec, budget_spend_rows
from routers.models import Router
from routers.selectors import router_can_edit, router_get_for_user
from routerweb.http import HtmxHttpRequest, attachment

PRESETS = (7, 30, 90, 365)


def _router_for_analytics(request: HtmxHttpRequest, pk: int) -> Router:
    router = router_get_for_user(user=request.user, pk=pk)
    if not router_can_edit(user=request.user, router=router):
        raise PermissionDenied("Only people who may edit this router can see its analytics.")
    return router


def _range(request: HtmxHttpRequest, router: Router) -> DateRange:
    today = datetime.now(router_time_zone(router=router)).date()
    return analytics_range_parse(
        start=request.GET.get("start"), end=request.GET.get("end"), today=today
    )


@require_GET
def router_analytics_page(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    router = _router_for_analytics(request, pk)
    date_range = _range(request, router)
    tz = router_time_zone(router=router)
    stats = router_analytics(router=router, start=date_range.start, end=date_range.end, tz=tz)
    today = datetime.now(tz).date()
    feedback = router_feedback(stats=stats, tz=tz)
    context = {
        "router": router,
        "range": date_range,
        "stats": stats,
        "chart_data": stats.chart_data(),
        "presets": [(days, today - timedelta(days=days - 1), today) for days in PRESETS],
        "default_days": DEFAULT_DAYS,
        "max_days": MAX_DAYS,
        "budget_rows": _router_budgets(router),
        "feedback": feedback,
        "control_tables": [
            ("By profile", "profile", stats.by_profile),
            ("By data policy and budget step", "control", stats.by_control),
        ],
        "feedback_tables": [
            ("By rule", feedback.by_rule, True),
            ("By model", feedback.by_model, False),
        ],
        "nav": "routers",
    }
    return render(request, "routers/analytics.html", context)


def _router_budgets(router: Router) -> list[dict[str, Any]]:
    """This router's budgets, spend against limit this period (governance.spend)."""
    budgets = list(Budget.objects.filter(scope=BudgetScope.ROUTER, router_id=router.pk))
    rows = budget_spend_rows([BudgetSpec.of(b) for b in budgets], timezone.now())
    for row, budget in zip(rows, budgets, strict=True):
        row["budget"] = budget
        row["target"] = f"router {router.name}"
    return rows


class _Echo:
    """csv.writer wants a file; this one hands each formatted line straight back."""

    def write(self, value: str) -> str:
        return value


@require_GET
def router_analytics_csv(request: HtmxHttpRequest, pk: int) -> StreamingHttpResponse:
    router = _router_for_analytics(request, pk)
    date_range = _range(request, router)
    rows = router_decision_rows(
        router=router,
        start=date_range.start,
        end=date_range.end,
        tz=router_time_zone(router=router),
    )
    writer = csv.writer(_Echo())
    filename = (
        f"{router.slug}-decisions-{date_range.start.isoformat()}-{date_range.end.isoformat()}.csv"
    )
    return StreamingHttpResponse(
        (writer.writerow(row) for row in rows),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": attachment(filename)},
    )


LOG_FILTER_LABELS = {
    "source": "Decided by",
    "tier": "Tier",
    "category": "Category",
    "profile": "Profile",
    "policy": "Policy",
    "budget_step": "Budget step",
}
LOG_PAGE_SIZE = 50


@require_GET
def router_decision_log_page(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The router's decision log: each decision with what decided it (rule, tier, category,
    profile, policies, budget step), filterable by each, and its detail (reason, attempts)."""
    router = _router_for_analytics(request, pk)
    date_range = _range(request, router)
    tz = router_time_zone(router=router)
    filters = {column: request.GET.get(column, "")[:300] for column in LOG_FILTERS}
    decisions = router_decision_log(
        router=router, start=date_range.start, end=date_range.end, tz=tz, filters=filters
    )
    page = Paginator(decisions, LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode(
        {
            "start": date_range.start.isoformat(),
            "end": date_range.end.isoformat(),
            **{k: v for k, v in filters.items() if v},
        }
    )
    choices = router_decision_log_choices(
        router=router, start=date_range.start, end=date_range.end, tz=tz
    )
    fields = [
        {
            "column": column,
            "label": label,
            "value": filters[column],
            "choices": [
                (value, BUDGET_STEP_LABELS.get(value, value) if column == "budget_step" else value)
                for value in choices[column]
            ],
        }
        for column, label in LOG_FILTER_LABELS.items()
    ]
    for decision in page:
        decision.step_label = BUDGET_STEP_LABELS.get(decision.budget_step, decision.budget_step)  # type: ignore[attr-defined]
    return render(
        request,
        "routers/decisions.html",
        {
            "router": router,
            "range": date_range,
            "page": page,
            "filter_fields": fields,
            "query": query,
            "nav": "routers",
        },
    )
