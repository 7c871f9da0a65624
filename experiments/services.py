"""Starting and ending experiments (audited). Starting one replaces the routing configuration
version, so every process's `/v1` plans pick the arms up on their next call."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from experiments.models import Experiment, Outcome
from routers import config_version
from routers.models import Router, RouterVersion
from routers.selectors import router_can_edit
from routers.services import publish_version, router_snapshot
from routers.versions import router_draft_changed
from routerweb.http import whole_number

DRAFT = "draft"


def _locked(router: Router) -> Router:
    locked = Router.objects.select_for_update().get(pk=router.pk)
    router.published_version_id = locked.published_version_id
    return router


def experiment_start(
    *, router: Router, actor: User, variant: str, percent: int, name: str = ""
) -> Experiment:
    """Split the router's traffic: `percent`% to `variant` (a version number, or "draft": the
    draft is published as a new version that only the experiment routes with), the rest to
    the live version. Raises ValidationError (nothing changed) or PermissionDenied."""
    if not router_can_edit(user=actor, router=router):
        raise PermissionDenied("Only someone who may edit this router can start an experiment.")
    if not isinstance(percent, int) or not 1 <= percent <= 99:
        raise ValidationError("The variant's share of traffic must be between 1% and 99%.")
    with transaction.atomic():
        _locked(router)
        control = router.published_version
        if control is None:
            raise ValidationError("Publish the router first: an experiment compares versions.")
        if Experiment.objects.filter(router=router, ended_at__isnull=True).exists():
            raise ValidationError("An experiment is already running on this router; end it first.")
        if variant == DRAFT:
            if not router_draft_changed(router=router):
                raise ValidationError(
                    f"The draft routes exactly like the published v{control.number}: "
                    "edit it first, or pick an earlier version."
                )
            chosen = publish_version(
                router=router,
                snapshot=router_snapshot(router=router),
                actor=actor,
                note=f"Published for an experiment against v{control.number}.",
            )
            # Traffic stays on the control; only the experiment's share routes with it.
            router.published_version = control
            router.save(update_fields=["published_version", "updated_at"])
        else:
            number = whole_number(variant) or -1
            found = RouterVersion.objects.filter(router=router, number=number).first()
            if found is None:
                raise ValidationError("Pick the draft or one of the router's versions.")
            if found.pk == control.pk:
                raise ValidationError(f"v{number} is the live version: pick another to compare.")
            chosen = found
        try:
            with transaction.atomic():
                experiment = Experiment.objects.create(
                    router=router,
                    name=name.strip()[:100],
                    control=control,
                    variant=chosen,
                    percent=percent,
                    started_at=timezone.now(),
                    started_by=actor,
                )
        except IntegrityError:
            raise ValidationError(
                "An experiment is already running on this router; end it first."
            ) from None
        audit_record(
            actor=actor,
            action="experiment.start",
            obj=router,
            after={
                "experiment": experiment.pk,
                "control": control.number,
                "variant": chosen.number,
                "percent": percent,
            },
        )
        config_version.bump()
    return experiment


def experiment_end(*, experiment: Experiment, actor: User, publish_variant: bool) -> Experiment:
    """End it: publish the variant (it becomes the live version) or keep the control."""
    router = experiment.router
    if not router_can_edit(user=actor, router=router):
        raise PermissionDenied("Only someone who may edit this router can end an experiment.")
    with transaction.atomic():
        _locked(router)
        stored = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if stored.ended_at is not None:
            raise ValidationError("This experiment has ended already.")
        live = router.published_version
        if publish_variant and router.published_version_id != experiment.variant_id:
            # The variant itself goes live, under the number its arm was compared as.
            router.published_version = experiment.variant
            router.save(update_fields=["published_version", "updated_at"])
        experiment.ended_at = timezone.now()
        experiment.ended_by = actor
        experiment.outcome = Outcome.VARIANT if publish_variant else Outcome.CONTROL
        experiment.save(update_fields=["ended_at", "ended_by", "outcome"])
        audit_record(
            actor=actor,
            action="experiment.end",
            obj=router,
            before={
                "experiment": experiment.pk,
                "published_version": live.number if live is not None else None,
            },
            after={
                "outcome": experiment.outcome,
                "published_version": router.published_version.number
                if router.published_version is not None
                else None,
            },
        )
        config_version.bump()
    return experiment
