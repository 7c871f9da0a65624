"""The JSON API's dry-run: a message planned exactly as sending it would be, not answered."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from planning.planner import decision_of, panel_request, plan_sync
from routers.api import ERRORS, DecisionOut, DryRunIn, api_user, router_for, version_for
from routers.versions import router_at

router = Router(tags=["routers"])


@router.post(
    "/{int:router_id}/dry-run",
    response={200: DecisionOut, **ERRORS},
    summary="Route a message without answering it",
    description="Plans the message as sending it would (the same checks, policies, budgets and "
    "rules) and returns the decision. The answering model is never called; LLM-classified "
    "rules do call the classifier model, as the rule builder's test panel does. `refusal` "
    "says why nothing would be sent, when so.",
)
def dry_run(request: HttpRequest, router_id: int, payload: DryRunIn) -> dict[str, Any]:
    row = router_for(request, router_id)
    if payload.version is not None:  # a published version instead of the draft
        row = router_at(row, version_for(row, payload.version))
    plan = plan_sync(
        panel_request(
            router=row,
            user=api_user(request),
            text=payload.message,
            has_image=payload.has_image,
            conversation_tokens=payload.conversation_tokens,
            turns=payload.turns,
            time_of_day=payload.time_of_day,
            workspace_type=payload.workspace_type,
            workspace_tags=tuple(t.strip() for t in payload.workspace_tags if t.strip()),
            tier=payload.tier,
            workspace_tier=payload.workspace_tier,
        )
    )
    return decision_of(plan)
