"""Pages of a router's golden set and replays.

Permission checks come from `routers.views.router_for_user`: anyone who may use a router may
see its golden set and run it (as they may use the test panel); adding or removing cases and
starting a replay (which spends classifier calls on logged traffic) need the right to edit it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from chat.models import Message
from decisions.models import RoutingDecision
from evaluation.golden import (
    NO_RULE,
    GoldenReport,
    GoldenRunBusy,
    golden_case_create,
    golden_case_delete,
    golden_case_from_decision,
    golden_case_from_message,
    golden_run,
    router_tier_names,
)
from evaluation.models import Expect, GoldenCase, ReplayRun
from evaluation.replay import EARLIEST_YEAR, LATEST_YEAR, PERIOD_RANGE, replay_estimate
from evaluation.routing import UnknownVersion
from evaluation.services import replay_start
from routers.models import Router
from routers.selectors import router_can_edit
from routers.views import router_for_user
from routerweb.http import HtmxHttpRequest, whole_number


def _version_choices(router: Router) -> list[tuple[str, str]]:
    live = router.published_version_id
    return [("", "the draft")] + [
        (str(v.number), f"v{v.number}{' (published)' if v.pk == live else ''}")
        for v in router.versions.order_by("-number")
    ]


def _version_of(value: str | None) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    number = whole_number(value)
    if number is None:
        raise Http404("No such version.")
    return number


class CaseForm(forms.Form):
    message = forms.CharField(max_length=100_000, widget=forms.Textarea(attrs={"rows": 2}))
    expect = forms.ChoiceField(choices=Expect.choices, initial=Expect.RULE)
    expected = forms.CharField(
        max_length=300,
        required=False,
        help_text=f"A rule name (empty: {NO_RULE}, the primary answers), a tier name or a "
        "model ref.",
    )
    has_image = forms.BooleanField(required=False, label="with an image")
    time_of_day = forms.CharField(
        max_length=5, required=False, label="Time of day",
        widget=forms.TimeInput(attrs={"type": "time"}),
    )  # fmt: skip
    user_name = forms.CharField(max_length=150, required=False, label="User")
    workspace_name = forms.CharField(max_length=100, required=False, label="Workspace")
    workspace_tags = forms.CharField(max_length=500, required=False, label="Workspace tags")


def _golden_context(request: HtmxHttpRequest, router: Router, **extra: Any) -> dict[str, Any]:
    can_edit = router_can_edit(user=request.user, router=router)
    # Your own chats' decisions (anyone's for an admin): threads are personal, and adding a
    # decision copies its message into the golden set.
    mine = {} if request.user.is_admin_role else {"user": request.user}
    recent = (
        RoutingDecision.objects.filter(
            router=router, message_id__isnull=False, overridden=False, **mine
        ).order_by("-created_at", "-id")[:15]
        if can_edit
        else []
    )
    return {
        "router": router,
        "nav": "routers",
        "can_edit": can_edit,
        "cases": list(router.golden_cases.all()),
        "rule_names": list(router.rules.values_list("name", flat=True)),
        "tier_names": router_tier_names(router),
        "versions": _version_choices(router),
        "recent": recent,
        "form": CaseForm(),
        "no_rule": NO_RULE,
        **extra,
    }


@require_GET
def golden_page(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    router = router_for_user(request, pk)
    return render(request, "evaluation/golden.html", _golden_context(request, router))


@require_POST
def golden_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    router = router_for_user(request, pk, edit=True)
    form = CaseForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            golden_case_create(
                router=router,
                actor=request.user,
                message=data["message"],
                expect=data["expect"],
                expected=data["expected"],
                has_image=data["has_image"],
                time_of_day=data["time_of_day"],
                user_name=data["user_name"],
                workspace_name=data["workspace_name"],
                workspace_tags=[t.strip() for t in data["workspace_tags"].split(",") if t.strip()],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            flash.success(request, "Case added.")
            return redirect("golden_page", pk=router.pk)
    context = _golden_context(request, router, form=form)
    return render(request, "evaluation/golden.html", context, status=422)


@require_POST
def golden_delete(request: HtmxHttpRequest, pk: int, case_pk: int) -> HttpResponse:
    router = router_for_user(request, pk, edit=True)
    case = get_object_or_404(GoldenCase, pk=case_pk, router=router)
    golden_case_delete(case=case, actor=request.user)
    flash.success(request, "Case removed.")
    return redirect("golden_page", pk=router.pk)


@require_POST
def golden_from_decision(request: HtmxHttpRequest, pk: int, decision_pk: int) -> HttpResponse:
    router = router_for_user(request, pk, edit=True)
    decision = get_object_or_404(RoutingDecision, pk=decision_pk, router=router)
    try:
        golden_case_from_decision(
            router=router,
            decision=decision,
            actor=request.user,
            expect=request.POST.get("expect") or Expect.RULE,
        )
    except ValidationError as exc:
        flash.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        flash.error(request, str(exc))
    else:
        flash.success(request, "Added to the golden set, expecting what the router chose then.")
    return redirect("golden_page", pk=router.pk)


@require_POST
def golden_from_message(request: HtmxHttpRequest, message_pk: int) -> HttpResponse:
    """The chat badge's "Add to golden set": back to the thread with a message."""
    message = get_object_or_404(
        Message.objects.select_related("thread__owner", "thread__workspace"), pk=message_pk
    )
    if message.thread.owner_id != request.user.pk and not request.user.is_admin_role:
        raise Http404("No such message.")
    router_id = (message.routing or {}).get("router_id")
    router = router_for_user(request, router_id, edit=True) if router_id else None
    try:
        if router is None:
            raise ValidationError("Only an answer a router chose can be added to its golden set.")
        golden_case_from_message(message=message, actor=request.user)
    except ValidationError as exc:
        flash.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        flash.error(request, str(exc))
    else:
        flash.success(request, f"Added to the golden set of “{router.name}”.")  # type: ignore[union-attr]
    return redirect(reverse("thread", args=[message.thread_id]) + f"#message-{message.pk}")


@require_POST
def golden_run_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    router = router_for_user(request, pk)
    try:
        report = golden_run(router=router, version=_version_of(request.POST.get("version")))
    except UnknownVersion as exc:
        raise Http404(str(exc)) from None
    except GoldenRunBusy as exc:
        report = GoldenReport(label="", error=str(exc))
    labels, matrix = report.matrix()
    rows = [(e, [(n, labels[i] == e) for i, n in enumerate(counts)]) for e, counts in matrix]
    context = {"report": report, "labels": labels, "rows": rows, "no_rule": NO_RULE}
    if request.htmx:
        return render(
            request, "evaluation/golden.html#golden-report", {"router": router, **context}
        )
    # Without htmx (no JavaScript) the whole page, with the report in it.
    return render(request, "evaluation/golden.html", _golden_context(request, router, **context))


# --- replays -------------------------------------------------------------------------------------


class ReplayForm(forms.Form):
    version = forms.CharField(required=False)
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="End (inclusive)")
    cap = forms.DecimalField(
        min_value=Decimal("0"), max_digits=12, decimal_places=6, initial=Decimal("1"),
        label="Cost cap ($)",
    )  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("start", "end"):
            day = data.get(name)
            if day is not None and not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
                self.add_error(name, PERIOD_RANGE)
        return data

    def period(self) -> tuple[datetime, datetime]:
        zone = timezone.get_current_timezone()
        start = datetime.combine(self.cleaned_data["start"], time.min, tzinfo=zone)
        end = datetime.combine(self.cleaned_data["end"], time.min, tzinfo=zone) + timedelta(days=1)
        return start, end


def _replay_context(request: HtmxHttpRequest, router: Router, **extra: Any) -> dict[str, Any]:
    today = timezone.localdate()
    return {
        "router": router,
        "nav": "routers",
        "can_edit": router_can_edit(user=request.user, router=router),
        "versions": _version_choices(router),
        "runs": router.replays.all()[:20],
        "form": ReplayForm(initial={"start": today - timedelta(days=7), "end": today}),
        **extra,
    }


@require_GET
def replay_page(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    router = router_for_user(request, pk)
    return render(request, "evaluation/replays.html", _replay_context(request, router))


@require_POST
def replay_estimate_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    router = router_for_user(request, pk, edit=True)
    form = ReplayForm(request.POST)
    estimate = None
    error = ""
    if form.is_valid():
        start, end = form.period()
        try:
            estimate = replay_estimate(
                router=router,
                version=_version_of(form.cleaned_data["version"]),
                start=start,
                end=end,
            )
        except UnknownVersion as exc:
            error = str(exc)
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = " ".join(" ".join(str(m) for m in e) for e in form.errors.values())
    context = {"router": router, "estimate": estimate, "error": error}
    return render(request, "evaluation/replays.html#replay-estimate", context)


@require_POST
def replay_start_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    router = router_for_user(request, pk, edit=True)
    form = ReplayForm(request.POST)
    if form.is_valid():
        start, end = form.period()
        try:
            run = replay_start(
                router=router,
                actor=request.user,
                start=start,
                end=end,
                version=_version_of(form.cleaned_data["version"]),
                cap=form.cleaned_data["cap"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect("replay_detail", pk=router.pk, run_pk=run.pk)
    context = _replay_context(request, router, form=form)
    return render(request, "evaluation/replays.html", context, status=422)


def _run_for(router: Router, run_pk: int) -> ReplayRun:
    return get_object_or_404(ReplayRun, pk=run_pk, router=router)


@require_GET
def replay_detail(request: HtmxHttpRequest, pk: int, run_pk: int) -> HttpResponse:
    """The run's page; with htmx, its progress fragment (polled until it is finished)."""
    router = router_for_user(request, pk)
    run = _run_for(router, run_pk)
    context = {"router": router, "run": run, "nav": "routers"}
    if request.htmx:
        return render(request, "evaluation/replay.html#replay-progress", context)
    return render(request, "evaluation/replay.html", context)
