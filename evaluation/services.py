"""Starting a replay: check the period and its cost against the cap, store it, enqueue it."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.models import User
from audit.services import audit_record
from evaluation.models import ReplayRun
from evaluation.replay import MAX_DAYS, period_problem, replay_estimate
from evaluation.routing import UnknownVersion
from evaluation.tasks import replay_task
from routers.models import Router
from routers.selectors import router_can_edit
from routers.services import router_snapshot
from routers.versions import version_get


def replay_start(
    *,
    router: Router,
    actor: User,
    start: datetime,
    end: datetime,
    version: int | None = None,
    cap: Decimal = Decimal("1"),
) -> ReplayRun:
    """Check the period and the cost, store the run and enqueue it (after commit)."""
    if not router_can_edit(user=actor, router=router):
        raise PermissionDenied("Only someone who may edit this router can replay traffic on it.")
    errors: dict[str, str] = {}
    if problem := period_problem(start, end):
        errors["start"] = problem
    elif end <= start:
        errors["end"] = "The period must end after it starts."
    elif end - start > timedelta(days=MAX_DAYS):
        errors["start"] = f"Replay at most {MAX_DAYS} days at a time."
    if cap < 0:
        errors["cap"] = "The cap cannot be negative."
    if version is not None and version_get(router=router, number=version) is None:
        errors["version"] = f"This router has no version {version}."
    if errors:
        raise ValidationError(errors)
    try:
        estimate = replay_estimate(router=router, version=version, start=start, end=end)
    except UnknownVersion as exc:
        raise ValidationError({"version": str(exc)}) from None
    if estimate.total == 0:
        raise ValidationError({"start": "No logged messages of this router in that period."})
    if estimate.cost > cap:
        raise ValidationError(
            {
                "cap": f"This replay may need up to {estimate.calls} classifier calls, about "
                f"${estimate.cost:.4f}, more than the cap of ${cap:.4f}: raise the cap or "
                "pick a shorter period."
            }
        )
    version_row = version_get(router=router, number=version) if version is not None else None
    with transaction.atomic():
        run = ReplayRun.objects.create(
            router=router,
            version_number=version,
            snapshot=version_row.snapshot if version_row else router_snapshot(router=router),
            start=start,
            end=end,
            cap=cap,
            estimate_calls=estimate.calls,
            estimate_cost=estimate.cost,
            total=estimate.total,
            created_by=actor,
        )
        audit_record(
            actor=actor,
            action="replay.start",
            obj=router,
            after={
                "replay": run.pk,
                "tested": run.label,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "cap": str(cap),
                "estimate": str(estimate.cost),
            },
        )
        transaction.on_commit(lambda: replay_task.delay(run.pk))
    return run
