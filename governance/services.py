"""Writes: policies and budgets, validated before they are saved."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from audit.services import audit_record, snapshot
from engine import RuleError
from engine.policy import compile_policy
from governance.models import Budget, Policy, Scope
from governance.selectors import policy_spec

MAX_POLICIES_PER_TARGET = 20


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
    # Every message is checked against the policies of its instance, workspace and router:
    # a bounded number each keeps that a bounded cost.
    same_target = Policy.objects.filter(
        scope=policy.scope, workspace_id=policy.workspace_id, router_id=policy.router_id
    ).exclude(pk=policy.pk)  # type: ignore[misc]
    if same_target.count() >= MAX_POLICIES_PER_TARGET:
        where = {"instance": "the instance", "workspace": "a workspace", "router": "a router"}
        errors.setdefault("__all__", []).append(
            f"At most {MAX_POLICIES_PER_TARGET} policies apply to "
            f"{where.get(policy.scope, 'one scope')}: edit or delete one first."
        )
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


# --- budgets: writes audited with the person who made them ------------------------------------

BUDGET_AUDIT_FIELDS = [
    "name",
    "enabled",
    "scope",
    "user",
    "token",
    "workspace_id",
    "router_id",
    "period",
    "limit",
    "step_percent",
    "step_tier",
    "over_action",
    "allowed",
]


@transaction.atomic
def budget_save(*, actor: User, budget: Budget) -> Budget:
    """Store a budget built by a form (create or update) and audit the change."""
    stored = Budget.objects.filter(pk=budget.pk).first() if budget.pk else None
    _save_audited(actor=actor, row=budget, stored=stored, kind="budget", fields=BUDGET_AUDIT_FIELDS)
    return budget


@transaction.atomic
def budget_delete(*, actor: User, budget: Budget) -> None:
    _delete_audited(actor=actor, row=budget, kind="budget", fields=BUDGET_AUDIT_FIELDS)


def _save_audited(
    *, actor: User, row: Budget | Policy, stored: Budget | Policy | None, kind: str,
    fields: list[str],
) -> None:  # fmt: skip
    """Save `row` and audit `<kind>.create` or `<kind>.update` (against `stored`, the row as
    the database held it) with the listed fields."""
    before = snapshot(stored, fields) if stored is not None else None
    row.save()
    audit_record(
        actor=actor,
        action=f"{kind}.update" if before else f"{kind}.create",
        obj=row,
        before=before,
        after=snapshot(row, fields),
    )


def _delete_audited(*, actor: User, row: Budget | Policy, kind: str, fields: list[str]) -> None:
    audit_record(actor=actor, action=f"{kind}.delete", obj=row, before=snapshot(row, fields))
    row.delete()


# --- policies: writes audited with the person who made them -----------------------------------

POLICY_AUDIT_FIELDS = [
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
]


@transaction.atomic
def policy_save(*, actor: User, policy: Policy, catalog_refs: set[str] | None = None) -> Policy:
    """Validate (raises ValidationError by field, nothing saved), store and audit a policy.
    Only the scope's own target is kept, so a policy never binds two things."""
    if policy.scope != Scope.WORKSPACE:
        policy.workspace_id = None
    if policy.scope != Scope.ROUTER:
        policy.router_id = None
    policy_validate(policy, catalog_refs=catalog_refs)
    stored = Policy.objects.filter(pk=policy.pk).first() if policy.pk else None
    if stored is None and policy.created_by_id is None:
        policy.created_by = actor
    _save_audited(actor=actor, row=policy, stored=stored, kind="policy", fields=POLICY_AUDIT_FIELDS)
    return policy


@transaction.atomic
def policy_delete(*, actor: User, policy: Policy) -> None:
    _delete_audited(actor=actor, row=policy, kind="policy", fields=POLICY_AUDIT_FIELDS)
