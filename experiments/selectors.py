"""Reads of experiments."""

from __future__ import annotations

from django.db.models import QuerySet

from experiments.models import Experiment
from routers.models import Router


def experiment_running_for(*, router_id: int) -> Experiment | None:
    """The router's running experiment, with both versions (one query)."""
    return (
        Experiment.objects.select_related("control", "variant")
        .filter(router_id=router_id, ended_at__isnull=True)
        .first()
    )


def experiment_list_for(*, router: Router) -> QuerySet[Experiment]:
    return Experiment.objects.filter(router=router).select_related(
        "control", "variant", "started_by", "ended_by"
    )
