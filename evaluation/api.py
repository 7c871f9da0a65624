"""JSON API for golden sets and replays, under /api/routers/{id}/…

The same rules as the pages: anyone who may use a router may read and run its golden set;
changing it and starting a replay need the right to edit the router.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema, Status

from decisions.models import RoutingDecision
from evaluation.golden import (
    GoldenRunBusy,
    golden_case_create,
    golden_case_delete,
    golden_case_from_decision,
    golden_run,
)
from evaluation.models import GoldenCase, ReplayRun
from evaluation.replay import replay_estimate
from evaluation.routing import UnknownVersion
from evaluation.services import replay_start
from routers.api import ERRORS, MAX_ID, ErrorOut, In, api_user, router_for

router = Router(tags=["golden sets and replays"])

Role = Literal["user", "assistant"]


class CaseIn(In):
    message: str = Field(max_length=100_000)
    expect: Literal["rule", "model", "tier", "refused"] = "rule"
    expected: str = Field(
        "",
        max_length=300,
        description='A rule name ("" : no rule), a model ref, one of the router\'s tiers, or '
        'for "refused" the data policy that should refuse it ("": any)',
    )
    history: list[tuple[Role, str]] = Field(default_factory=list, max_length=20)
    has_image: bool = False
    time_of_day: str = Field("", pattern=r"^(([01]\d|2[0-3]):[0-5]\d)?$")
    user_name: str = Field("", max_length=150)
    groups: list[str] = Field(default_factory=list, max_length=50)
    workspace_name: str = Field("", max_length=100)
    workspace_tags: list[str] = Field(default_factory=list, max_length=50)


class CaseOut(Schema):
    id: int
    message: str
    expect: str
    expected: str
    history: list[list[str]]
    has_image: bool
    time_of_day: str
    user_name: str
    groups: list[str]
    workspace_name: str
    workspace_tags: list[str]
    source: str


class FromDecisionIn(In):
    expect: Literal["rule", "tier"] = Field(
        "rule", description="Expect the rule that decided it, or the tier the turn used"
    )


class RunIn(In):
    version: int | None = Field(None, ge=1, le=MAX_ID, description="Omitted: the draft")


class ReportOut(Schema):
    tested: str
    ok: bool = Field(description="Every case passed")
    error: str
    passed: int
    failed: int
    not_run: int = Field(description="Cases the run's time limit left unrouted")
    not_run_reason: str
    classifier_calls: int
    classifier_cost: str
    confusion: dict[str, Any]
    cases: list[dict[str, Any]]
    not_run_cases: list[dict[str, Any]]


class ReplayIn(In):
    version: int | None = Field(None, ge=1, le=MAX_ID, description="Omitted: the draft")
    start: datetime
    end: datetime
    cap: Decimal = Field(Decimal("1"), ge=0, le=999_999, decimal_places=6)


class EstimateOut(Schema):
    total: int
    with_text: int
    without_text: int
    classifier_calls: int
    classifier_cost: str
    classifier: str


class ReplayOut(Schema):
    id: int
    tested: str
    status: str
    start: datetime
    end: datetime
    cap: str
    estimate_calls: int
    estimate_cost: str
    total: int
    processed: int
    skipped_no_text: int
    changed: int
    transitions: list[dict[str, Any]]
    cost_before: str
    cost_after: str
    classifier_calls: int
    classifier_cost: str
    error: str


def _aware(moment: datetime) -> datetime:
    """A time sent without an offset is read as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _case_out(case: GoldenCase) -> dict[str, Any]:
    return {
        "id": case.pk,
        "message": case.message,
        "expect": case.expect,
        "expected": case.expected,
        "history": case.history,
        "has_image": case.has_image,
        "time_of_day": case.time_of_day,
        "user_name": case.user_name,
        "groups": case.groups,
        "workspace_name": case.workspace_name,
        "workspace_tags": case.workspace_tags,
        "source": case.source,
    }


def _run_out(run: ReplayRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "tested": run.label,
        "status": run.status,
        "start": run.start,
        "end": run.end,
        "cap": str(run.cap),
        "estimate_calls": run.estimate_calls,
        "estimate_cost": str(run.estimate_cost),
        "total": run.total,
        "processed": run.processed,
        "skipped_no_text": run.skipped_no_text,
        "changed": run.changed,
        "transitions": run.transitions,
        "cost_before": str(run.cost_before),
        "cost_after": str(run.cost_after),
        "classifier_calls": run.classifier_calls,
        "classifier_cost": str(run.classifier_cost),
        "error": run.error,
    }


@router.get(
    "/{int:router_id}/golden", response={200: list[CaseOut], **ERRORS}, summary="Golden set cases"
)
def list_cases(request: HttpRequest, router_id: int) -> list[dict[str, Any]]:
    row = router_for(request, router_id)
    return [_case_out(c) for c in row.golden_cases.all()]


@router.post(
    "/{int:router_id}/golden", response={201: CaseOut, **ERRORS}, summary="Add a golden case"
)
def add_case(request: HttpRequest, router_id: int, payload: CaseIn) -> Status[dict[str, Any]]:
    row = router_for(request, router_id, edit=True)
    data = payload.model_dump()
    data["history"] = [list(turn) for turn in data["history"]]
    case = golden_case_create(router=row, actor=api_user(request), **data)
    return Status(201, _case_out(case))


@router.delete(
    "/{int:router_id}/golden/{int:case_id}",
    response={204: None, **ERRORS},
    summary="Remove a golden case",
)
def delete_case(request: HttpRequest, router_id: int, case_id: int) -> Status[None]:
    row = router_for(request, router_id, edit=True)
    case = row.golden_cases.filter(pk=case_id).first() if 0 < case_id <= MAX_ID else None
    if case is None:
        raise Http404("No such case in this router's golden set.")
    golden_case_delete(case=case, actor=api_user(request))
    return Status(204, None)


@router.post(
    "/{int:router_id}/golden/from-decision/{int:decision_id}",
    response={201: CaseOut, **ERRORS},
    summary="Add a logged decision's message as a golden case",
)
def add_from_decision(
    request: HttpRequest, router_id: int, decision_id: int, query: Query[FromDecisionIn]
) -> Status[dict[str, Any]]:
    row = router_for(request, router_id, edit=True)
    decision = (
        RoutingDecision.objects.filter(pk=decision_id, router=row).first()
        if 0 < decision_id <= MAX_ID
        else None
    )
    if decision is None:
        raise Http404("No such decision of this router.")
    case = golden_case_from_decision(
        router=row, decision=decision, actor=api_user(request), expect=query.expect
    )
    return Status(201, _case_out(case))


@router.post(
    "/{int:router_id}/golden/run",
    response={200: ReportOut, 409: ErrorOut, **ERRORS},
    summary="Run the golden set",
    description="Routes every case with the draft (or `version`); the answering model is never "
    "called, LLM rules call the classifier. A run starts no case after GOLDEN_RUN_SECONDS: "
    "those are counted in `not_run` (neither passed nor failed). `ok` is false when a case "
    "fails or was not run. 409 while another run of this router's golden set is in progress.",
)
def run_golden(request: HttpRequest, router_id: int, payload: RunIn) -> Any:
    row = router_for(request, router_id)
    try:
        return golden_run(router=row, version=payload.version).to_dict()
    except UnknownVersion as exc:
        raise Http404(str(exc)) from None
    except GoldenRunBusy as exc:
        return Status(409, {"detail": str(exc)})


@router.post(
    "/{int:router_id}/replays/estimate",
    response={200: EstimateOut, **ERRORS},
    summary="What a replay would cover and cost",
)
def estimate_replay(request: HttpRequest, router_id: int, payload: ReplayIn) -> dict[str, Any]:
    row = router_for(request, router_id, edit=True)
    try:
        estimate = replay_estimate(
            router=row,
            version=payload.version,
            start=_aware(payload.start),
            end=_aware(payload.end),
        )
    except UnknownVersion as exc:
        raise Http404(str(exc)) from None
    return {
        "total": estimate.total,
        "with_text": estimate.with_text,
        "without_text": estimate.without_text,
        "classifier_calls": estimate.calls,
        "classifier_cost": str(estimate.cost),
        "classifier": estimate.classifier,
    }


@router.post(
    "/{int:router_id}/replays",
    response={201: ReplayOut, **ERRORS},
    summary="Start a replay",
    description="Replays the router's logged chat messages of [start, end) with the draft or "
    "`version` as a background task; 422 when the estimated classifier cost exceeds `cap`.",
)
def start_replay(request: HttpRequest, router_id: int, payload: ReplayIn) -> Status[dict[str, Any]]:
    row = router_for(request, router_id, edit=True)
    run = replay_start(
        router=row,
        actor=api_user(request),
        start=_aware(payload.start),
        end=_aware(payload.end),
        version=payload.version,
        cap=payload.cap,
    )
    run.refresh_from_db()
    return Status(201, _run_out(run))


@router.get(
    "/{int:router_id}/replays/{int:run_id}",
    response={200: ReplayOut, **ERRORS},
    summary="A replay's progress and result",
)
def get_replay(request: HttpRequest, router_id: int, run_id: int) -> dict[str, Any]:
    row = router_for(request, router_id)
    run = row.replays.filter(pk=run_id).first() if 0 < run_id <= MAX_ID else None
    if run is None:
        raise Http404("No such replay of this router.")
    return _run_out(run)
