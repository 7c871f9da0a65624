"""Django admin writes, audited like every other write: who, what, before → after."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from audit.services import audit_record, snapshot


def _fields(obj: Model) -> list[str]:
    return [f.name for f in obj._meta.concrete_fields if not f.primary_key]


def _action(obj: Model, verb: str) -> str:
    return f"{obj._meta.model_name}.{verb}"


def _audit(request: HttpRequest, obj: Model, verb: str, before: Any, after: Any) -> None:
    audit_record(
        actor=request.user,  # type: ignore[arg-type]
        action=_action(obj, verb),
        obj=obj,
        before=before,
        after=after,
    )


class AuditedAdminMixin:
    """For ModelAdmin classes: saves and deletes (inline rows included) are audited with the
    admin who made them. Secret fields are redacted by the audit log itself."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        stored = type(obj).objects.filter(pk=obj.pk).first() if change else None
        before = snapshot(stored, _fields(obj)) if stored is not None else None
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        _audit(request, obj, "update" if before else "create", before, snapshot(obj, _fields(obj)))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        _audit(request, obj, "delete", snapshot(obj, _fields(obj)), None)
        super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        # Keyed by the instance itself: a deleted row has lost its pk by the time we log it.
        before = {
            id(f.instance): (
                f.instance.pk,
                snapshot(type(f.instance).objects.get(pk=f.instance.pk), _fields(f.instance)),
            )
            for f in formset.forms
            if f.instance.pk and f.has_changed()
        }
        super().save_formset(request, form, formset, change)  # type: ignore[misc]
        for obj in formset.new_objects:
            _audit(request, obj, "create", None, snapshot(obj, _fields(obj)))
        for obj, _changed in formset.changed_objects:
            _audit(request, obj, "update", before[id(obj)][1], snapshot(obj, _fields(obj)))
        for obj in formset.deleted_objects:
            pk, state = before[id(obj)]
            audit_record(
                actor=request.user,  # type: ignore[arg-type]
                action=_action(obj, "delete"),
                object_type=obj._meta.model_name or "",
                object_id=str(pk),
                object_repr=str(obj)[:200],
                before=state,
            )


class AuditedModelAdmin(AuditedAdminMixin, admin.ModelAdmin):
    pass
