"""A router's experiments page: start one (the draft or a version against the live one),
compare the arms while it runs, end it by publishing the variant or keeping the control."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from experiments.analytics import arms_significance, experiment_compare
from experiments.models import Experiment
from experiments.selectors import experiment_list_for
from experiments.services import DRAFT, experiment_end, experiment_start
from routers.models import Router
from routers.selectors import router_can_edit, router_get_for_user
from routers.versions import router_draft_changed, version_list
from routerweb.http import HtmxHttpRequest, whole_number


def _router(request: HtmxHttpRequest, pk: int) -> Router:
    router = router_get_for_user(user=request.user, pk=pk)
    if not router_can_edit(user=request.user, router=router):
        raise PermissionDenied("Only people who may edit this router can run experiments.")
    return router


def _page(request: HtmxHttpRequest, router: Router, *, status: int = 200, **extra: object):
    experiments = list(experiment_list_for(router=router))
    running = next((e for e in experiments if e.running), None)
    arms = experiment_compare(experiment=running) if running else None
    live = router.published_version
    return render(
        request,
        "experiments/page.html",
        {
            "router": router,
            "running": running,
            "arms": arms,
            "significance": arms_significance(arms) if arms else None,
            "ended": [e for e in experiments if not e.running],
            "live": live,
            "draft_changed": live is not None and router_draft_changed(router=router),
            "versions": [v for v in version_list(router=router) if live is None or v.pk != live.pk],
            "draft": DRAFT,
            "nav": "routers",
            **extra,
        },
        status=status,
    )


@require_GET
def experiments_page(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _page(request, _router(request, pk))


@require_POST
def experiment_start_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    router = _router(request, pk)
    raw = request.POST.get("percent", "").strip()
    try:
        percent = whole_number(raw) or -1
        experiment = experiment_start(
            router=router,
            actor=request.user,
            variant=request.POST.get("variant", ""),
            percent=percent,
            name=request.POST.get("name", ""),
        )
    except ValidationError as exc:
        return _page(request, router, status=422, start_error=" ".join(exc.messages))
    flash.success(
        request,
        f"Experiment started: {experiment.percent}% of traffic routes with "
        f"v{experiment.variant.number}, the rest with v{experiment.control.number}.",
    )
    return redirect("router_experiments", pk=router.pk)


@require_GET
def experiment_detail(request: HtmxHttpRequest, pk: int, experiment_pk: int) -> HttpResponse:
    router = _router(request, pk)
    experiment = experiment_list_for(router=router).filter(pk=experiment_pk).first()
    if experiment is None:
        raise Http404("No such experiment.")
    arms = experiment_compare(experiment=experiment)
    return render(
        request,
        "experiments/detail.html",
        {
            "router": router,
            "experiment": experiment,
            "arms": arms,
            "significance": arms_significance(arms),
            "nav": "routers",
        },
    )


@require_POST
def experiment_end_view(request: HtmxHttpRequest, pk: int, experiment_pk: int) -> HttpResponse:
    router = _router(request, pk)
    experiment = Experiment.objects.filter(pk=experiment_pk, router=router).first()
    if experiment is None:
        raise Http404("No such experiment.")
    publish = request.POST.get("outcome") == "variant"
    try:
        experiment_end(experiment=experiment, actor=request.user, publish_variant=publish)
    except ValidationError as exc:
        return _page(request, router, status=422, end_error=" ".join(exc.messages))
    if publish:
        flash.success(request, f"v{experiment.variant.number} is now the published version.")
    else:
        flash.success(request, "Experiment ended; the published version is unchanged.")
    return redirect("router_experiments", pk=router.pk)
