"""Writes: policies and budgets, validated before they are saved."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from engine import RuleError
from engine.policy import compile_policy
from governance.models import Policy, Scope
from governance.selectors import policy_spec


def policy_validate(policy: Policy, *, catalog_refs: set[str] | None = None) -> None:
    """Raise ValidationError (by field) unless the policy compiles and its scope and approved
    models make sense. `catalog_refs`: the refs that exist, to catch typos in approved."""
    errors: dict[str, list[str]] = {}
    if policy.scope == Scope.WORKSPACE and policy.workspace_id is None:
        errors.setdefault("workspace_id", []).append("Choose the workspace.")
    if policy.scope == Scope.ROUTER and policy.router_id is None:
        errors.setdefault("router_id", []).append("Choose the router.")
    if not isinstance(policy.approved, list) or not all(
        isinstance(ref, str) for ref in policy.approved
    ):
        errors.setdefault("approved", []).append("Approved models must be a list of model refs.")
    elif catalog_refs is not None:
        unknown = [ref for ref in policy.approved if ref not in catalog_refs]
        if unknown:
            errors.setdefault("approved", []).append("Not in the catalog: " + ", ".join(unknown))
    if not isinstance(policy.detectors, list):
        errors.setdefault("detectors", []).append("Detectors must be a list.")
    if not errors:
        try:
            compile_policy(policy_spec(policy))
        except RuleError as exc:
            field = (
                exc.field
                if exc.field in {"detectors", "patterns", "keywords", "approved", "action"}
                else "__all__"
            )
            errors.setdefault(field, []).append(exc.message)
    if errors:
        raise ValidationError(errors)
