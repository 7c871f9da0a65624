"""The budget form: choices come from the apps above governance (people, tokens,
workspaces, routers, the catalog), so it lives at the top with the pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from accounts.models import ApiToken, User
from chat.models import Workspace
from governance.models import Budget, BudgetScope, OverAction
from providers.models import CatalogModel
from routers.models import Router


class BudgetForm(forms.ModelForm):
    workspace = forms.ModelChoiceField(queryset=Workspace.objects.none(), required=False)
    router = forms.ModelChoiceField(queryset=Router.objects.none(), required=False)
    allowed_models = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Models allowed over the limit",
    )
    limit = forms.DecimalField(
        min_value=Decimal("0.01"), max_digits=12, decimal_places=2, label="Limit (USD)"
    )
    step_percent = forms.IntegerField(
        min_value=1,
        max_value=99,
        required=False,
        label="Step down at (% of the limit)",
        help_text="From this share of the limit on, the cheapest suitable model answers.",
    )

    class Meta:
        model = Budget
        fields = (
            "name",
            "enabled",
            "scope",
            "user",
            "token",
            "period",
            "limit",
            "step_percent",
            "over_action",
        )
        labels = {"over_action": "Over the limit"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(is_active=True).order_by("username")  # type: ignore[attr-defined]
        self.fields["token"].queryset = ApiToken.objects.filter(  # type: ignore[attr-defined]
            revoked_at__isnull=True
        ).select_related("user")
        self.fields["token"].label_from_instance = lambda t: f"{t.user.username}: {t}"  # type: ignore[attr-defined]
        self.fields["workspace"].queryset = Workspace.objects.order_by("name")  # type: ignore[attr-defined]
        self.fields["router"].queryset = Router.objects.order_by("name")  # type: ignore[attr-defined]
        self.fields["allowed_models"].choices = [  # type: ignore[attr-defined]
            (m.ref, f"{m.display_name} ({m.ref})")
            for m in CatalogModel.objects.filter(enabled=True).select_related("provider")
        ]
        if self.instance.pk:
            self.initial["allowed_models"] = self.instance.allowed
            self.initial["workspace"] = self.instance.workspace_id
            self.initial["router"] = self.instance.router_id

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        scope = data.get("scope")
        target = {
            BudgetScope.USER: "user",
            BudgetScope.TOKEN: "token",
            BudgetScope.WORKSPACE: "workspace",
            BudgetScope.ROUTER: "router",
        }.get(scope)  # type: ignore[arg-type]
        if target and not data.get(target):
            self.add_error(target, f"Choose the {target} this budget is for.")
        if data.get("over_action") == OverAction.LISTED and not data.get("allowed_models"):
            self.add_error("allowed_models", "List at least one model allowed over the limit.")
        return data

    def save(self, commit: bool = True) -> Budget:
        budget = super().save(commit=False)
        data = self.cleaned_data
        scope = data["scope"]
        # Only the scope's own target is kept, so a budget never binds two things.
        budget.user = data.get("user") if scope == BudgetScope.USER else None
        budget.token = data.get("token") if scope == BudgetScope.TOKEN else None
        workspace = data.get("workspace")
        router = data.get("router")
        budget.workspace_id = workspace.pk if scope == BudgetScope.WORKSPACE and workspace else None
        budget.router_id = router.pk if scope == BudgetScope.ROUTER and router else None
        budget.allowed = list(data.get("allowed_models") or [])
        if commit:
            budget.save()
        return budget
