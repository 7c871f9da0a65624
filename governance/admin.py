from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from audit.admin_mixins import AuditedModelAdmin
from engine.policy import DETECTORS
from governance.models import Budget, Policy, SpendEntry
from governance.services import policy_validate
from providers.models import CatalogModel


def _catalog_choices() -> list[tuple[str, str]]:
    return [
        (m.ref, f"{m.display_name} ({m.ref})")
        for m in CatalogModel.objects.filter(enabled=True).select_related("provider")
    ]


class PolicyAdminForm(forms.ModelForm):
    detectors = forms.MultipleChoiceField(
        choices=list(DETECTORS.items()), required=False, widget=forms.CheckboxSelectMultiple
    )
    approved = forms.MultipleChoiceField(
        choices=_catalog_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Approved models",
        help_text="For “Approved models only”: the models that may see a matching message.",
    )

    class Meta:
        model = Policy
        fields = (
            "name",
            "enabled",
            "scope",
            "workspace_id",
            "router_id",
            "detectors",
            "patterns",
            "keywords",
            "action",
            "approved",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            candidate = Policy(**{k: v for k, v in cleaned.items() if k != "created_by"})
            try:
                policy_validate(candidate)
            except ValidationError as exc:
                for name, messages in exc.message_dict.items():
                    self.add_error(name if name in self.fields else None, messages)
        return cleaned


@admin.register(Policy)
class PolicyAdmin(AuditedModelAdmin):
    """Also on their own pages (Policies), for admins and, for their scope, workspace managers
    and router editors; saves here are validated and audited the same way."""

    form = PolicyAdminForm
    list_display = ("name", "enabled", "scope", "action", "updated_at")
    list_filter = ("enabled", "scope", "action")


@admin.register(Budget)
class BudgetAdmin(AuditedModelAdmin):
    """Budgets are edited on their own page (Budgets), which validates the scope's target;
    here they can be looked at and switched off."""

    list_display = ("name", "enabled", "scope", "period", "limit", "step_percent", "over_action")
    list_filter = ("enabled", "scope", "period")
    list_editable = ("enabled",)

    def has_add_permission(self, request: Any) -> bool:
        return False


@admin.register(SpendEntry)
class SpendEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "channel", "cost", "user_id", "workspace_id", "router_id")
    list_filter = ("channel",)

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False
