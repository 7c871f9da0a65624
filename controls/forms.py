"""The budget and policy forms: choices come from the apps above governance (people, tokens,
workspaces, routers, the catalog), so it lives at the top with the pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from accounts.models import ApiToken, User
from chat.models import Workspace
from engine.policy import DETECTORS
from governance.models import Budget, BudgetScope, Policy, Scope
from governance.services import budget_validate, policy_validate
from providers.models import CatalogModel
from routers.models import Router, Visibility


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
        help_text="From this share of the limit on, the budget steps down: to the tier below if "
        "one is named, else to the cheapest suitable model.",
    )

    step_tier = forms.CharField(
        required=False,
        max_length=32,
        label="Past the step, route as if this tier were chosen",
        help_text="A tier of the router, e.g. balanced (its model, or the tier it falls back "
        "to). Empty: the cheapest suitable model. Without a router or a model for the tier, the "
        "cheapest suitable model answers.",
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
            "step_tier",
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
        models = list(CatalogModel.objects.filter(enabled=True).select_related("provider"))
        self.fields["allowed_models"].choices = [  # type: ignore[attr-defined]
            (m.ref, f"{m.display_name} ({m.ref})") for m in models
        ]
        self.catalog_refs = {m.ref for m in models}
        if self.instance.pk:
            self.initial["allowed_models"] = self.instance.allowed
            self.initial["workspace"] = self.instance.workspace_id
            self.initial["router"] = self.instance.router_id

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["step_tier"] = (data.get("step_tier") or "").strip()
        if self.errors:
            return data
        try:
            budget_validate(self._budget(data), catalog_refs=self.catalog_refs)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                target = BUDGET_FIELDS.get(field, field)
                for message in messages:
                    self.add_error(target if target in self.fields else None, message)
        return data

    def _budget(self, data: dict[str, Any]) -> Budget:
        budget = self.instance
        for field in self.Meta.fields:
            if field not in ("user", "token"):
                setattr(budget, field, data.get(field))
        scope = data.get("scope")
        # Only the scope's own target is kept, so a budget never binds two things.
        budget.user = data.get("user") if scope == BudgetScope.USER else None
        budget.token = data.get("token") if scope == BudgetScope.TOKEN else None
        workspace = data.get("workspace")
        router = data.get("router")
        budget.workspace_id = workspace.pk if scope == BudgetScope.WORKSPACE and workspace else None
        budget.router_id = router.pk if scope == BudgetScope.ROUTER and router else None
        budget.allowed = list(data.get("allowed_models") or [])
        return budget

    def save(self, commit: bool = True) -> Budget:
        budget = self._budget(self.cleaned_data)
        if commit:
            budget.save()
        return budget


# The budget's fields as the service names them → the form's.
BUDGET_FIELDS = {"workspace_id": "workspace", "router_id": "router", "allowed": "allowed_models"}


# --- policies ---------------------------------------------------------------------------------


def workspaces_managed_by(user: User) -> QuerySet[Workspace]:
    """Workspaces whose policies `user` may manage (as `workspace_can_manage`)."""
    qs = Workspace.objects.order_by("name")
    if user.is_admin_role or user.is_manager_role:
        return qs
    return qs.filter(owner=user)


def routers_editable_by(user: User) -> QuerySet[Router]:
    """Routers whose policies `user` may manage (as `router_can_edit`)."""
    qs = Router.objects.order_by("name")
    if user.is_admin_role:
        return qs
    if user.is_manager_role:
        return qs.filter(Q(owner=user) | Q(visibility=Visibility.SHARED))
    return qs.filter(owner=user)


class PolicyForm(forms.ModelForm):
    """A policy for the scopes the person manages: the instance (admins), a workspace they
    manage, a router they may edit. Validated by `policy_validate` (the detectors, RE2
    patterns and keywords compile; approved models exist), errors shown by their fields."""

    workspace = forms.ModelChoiceField(
        queryset=Workspace.objects.none(), required=False, empty_label="Choose a workspace"
    )
    router = forms.ModelChoiceField(
        queryset=Router.objects.none(), required=False, empty_label="Choose a router"
    )
    detectors = forms.MultipleChoiceField(
        choices=list(DETECTORS.items()),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Find",
    )
    patterns = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        label="Patterns (RE2, one per line)",
        help_text=r"For example ACME-\d{6} for your own order numbers. Linear-time RE2 syntax.",
    )
    keywords = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Keywords (one per line)",
        help_text="Whole words or phrases, case-insensitive.",
    )
    approved = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Approved models",
        help_text=(
            "For “Approved models only”: the models that may see a matching message — "
            "approve the router's classifier and embedding model too, or those steps are "
            "skipped for such messages."
        ),
    )

    field_order = (
        "name",
        "enabled",
        "scope",
        "workspace",
        "router",
        "detectors",
        "patterns",
        "keywords",
        "action",
        "approved",
    )

    class Meta:
        model = Policy
        fields = (
            "name",
            "enabled",
            "scope",
            "detectors",
            "patterns",
            "keywords",
            "action",
            "approved",
        )
        labels = {"scope": "Applies to", "action": "When something is found"}
        widgets = {"action": forms.RadioSelect}

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["name"].widget.attrs.setdefault("maxlength", 100)
        scopes = [
            (value, label)
            for value, label in Scope.choices
            if value != Scope.INSTANCE or user.is_admin_role
        ]
        self.fields["scope"].choices = scopes  # type: ignore[attr-defined]
        self.fields["workspace"].queryset = workspaces_managed_by(user)  # type: ignore[attr-defined]
        self.fields["router"].queryset = routers_editable_by(user)  # type: ignore[attr-defined]
        models = list(
            CatalogModel.objects.filter(enabled=True, provider__enabled=True)
            .select_related("provider")
            .order_by("kind", "provider__name", "display_name")
        )
        choices = [
            (m.ref, f"{m.display_name} ({m.ref}){' · embedding' if m.kind == 'embedding' else ''}")
            for m in models
        ]
        self.catalog_refs = {m.ref for m in models}
        if self.instance.pk:
            # A ref no longer in the catalog stays visible (and is flagged when saving), so
            # editing never drops an approval silently.
            gone = [ref for ref in self.instance.approved or [] if ref not in self.catalog_refs]
            choices += [(ref, f"{ref} (not in the catalog any more)") for ref in gone]
            self.initial["workspace"] = self.instance.workspace_id
            self.initial["router"] = self.instance.router_id
        self.fields["approved"].choices = choices  # type: ignore[attr-defined]
        if not self.instance.pk and not user.is_admin_role:
            self.initial.setdefault("scope", Scope.ROUTER)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        scope = data.get("scope")
        if scope == Scope.WORKSPACE and not data.get("workspace"):
            self.add_error("workspace", "Choose the workspace this policy is for.")
        if scope == Scope.ROUTER and not data.get("router"):
            self.add_error("router", "Choose the router this policy is for.")
        if self.errors:
            return data
        candidate = self._policy(data)
        try:
            policy_validate(candidate, catalog_refs=self.catalog_refs)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                target = {"workspace_id": "workspace", "router_id": "router"}.get(field, field)
                for message in messages:
                    self.add_error(None if target == "__all__" else target, message)
        return data

    def _policy(self, data: dict[str, Any]) -> Policy:
        policy = self.instance
        for field in ("name", "enabled", "scope", "action"):
            setattr(policy, field, data.get(field))
        policy.patterns = (data.get("patterns") or "").strip()
        policy.keywords = (data.get("keywords") or "").strip()
        policy.detectors = list(data.get("detectors") or [])
        policy.approved = list(data.get("approved") or [])
        workspace, router = data.get("workspace"), data.get("router")
        policy.workspace_id = (
            workspace.pk if scope_is(data, Scope.WORKSPACE) and workspace else None
        )
        policy.router_id = router.pk if scope_is(data, Scope.ROUTER) and router else None
        return policy

    def save(self, commit: bool = True) -> Policy:
        return self._policy(self.cleaned_data)


def scope_is(data: dict[str, Any], scope: str) -> bool:
    return data.get("scope") == scope
