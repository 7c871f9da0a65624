"""The rule builder's test panel: a typed message planned exactly as sending would plan it
(the classifier is asked; the answering model never is)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from planning.planner import decision_of, panel_request, plan_sync
from routers.forms import parse_earlier_turns, split_refs
from routers.versions import router_at, version_get
from routers.views import DETAIL, decision_view, render_detail, router_for_user, test_form
from routerweb.http import HtmxHttpRequest


@require_POST
def router_test(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Route a typed message without calling the answering model (LLM rules do call the
    classifier). Anyone who can see the router may test it."""
    router = router_for_user(request, pk)
    form = test_form(router, request.POST)
    result: dict[str, Any] | None = None
    status = 200
    if form.is_valid():
        data = form.cleaned_data
        at = data["time_of_day"]
        number = data["version"]  # None: the draft
        tested = (
            router
            if number is None
            else router_at(router, version_get(router=router, number=number))
        )
        plan = plan_sync(
            panel_request(
                router=tested,
                user=request.user,
                text=data["message"],
                has_image=data["has_image"],
                conversation_tokens=data["conversation_tokens"],
                turns=data["turns"],
                time_of_day=at.strftime("%H:%M") if at else None,
                earlier=tuple(parse_earlier_turns(data["earlier"])),
                workspace_type=data["workspace_type"] or "",
                workspace_tags=tuple(split_refs(data["workspace_tags"] or "")),
                tier=data.get("tier") or "",
            )
        )
        decision = decision_of(plan)
        if plan.decision is None and decision["refusal"]:
            result = {"error": decision["refusal"]}  # nothing was decided: say why
        else:
            result = decision_view(decision)
            result["tested"] = "the draft" if number is None else f"v{number}"
    else:
        status = 422
    if not request.htmx:
        return render_detail(request, router, form, result, status=status)
    return render(
        request,
        f"{DETAIL}#test-panel",
        {"router": router, "test_form": form, "result": result},
        status=status,
    )
