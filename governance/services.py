"""Writes: policies and budgets, validated before they are saved."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from audit.services import audit_record, snapshot
from engine import RuleError
from engine.policy import check_policy_keywords, compile_policy
from engine.tiers import TIER_NAME, TIER_NAME_HELP
from governance.models import Budget, BudgetScope, OverAction, Period, Policy, Scope
from governance.selectors import policy_spec

MAX_POLICIES_PER_TARGET = 20


def policy_validate(policy: Policy, *, catalog_refs: set[str] | None = None) -> None:
    """Raise ValidationError (by field) unless the policy compiles and its scope and approved
    models make sense. `catalog_refs`: the refs that exist, to catch typos in approved."""
    errors: dict[str, list[str]] = {}
    name = policy.name if isinstance(policy.name, str) else ""
    if not name.strip():
        errors.setdefault("name", []).append("Give the policy a name.")
    elif len(name) > 100:
        errors.setdefault("name", []).append("At most 100 characters.")
    if policy.scope not in Scope.values:
        errors.setdefault("scope", []).append(f"Choose one of {', '.join(Scope.values)}.")
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
    try:
        check_policy_keywords(policy.lines("keywords"))
    except RuleError as exc:
        errors.setdefault("keywords", []).append(exc.message)
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

MAX_BUDGET_LIMIT = Decimal("99999999")


def budget_validate(budget: Budget, *, catalog_refs: set[str] | None = None) -> None:
    """Raise ValidationError (by field) unless the budget makes sense: a name, its scope's
    target (`user`, `token`, `workspace_id`, `router_id`), a positive limit, a step between 1
    and 99% (required by a step tier, itself a tier name), and models listed for "allow only
    the listed models" (that exist, given `catalog_refs`). Forms and the JSON API share it."""
    errors: dict[str, list[str]] = {}

    def error(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    name = budget.name if isinstance(budget.name, str) else ""
    if not name.strip():
        error("name", "Give the budget a name.")
    elif len(name) > 100:
        error("name", "At most 100 characters.")
    if budget.scope not in BudgetScope.values:
        error("scope", f"Choose one of {', '.join(BudgetScope.values)}.")
    targets: dict[str, tuple[str, int | None]] = {
        BudgetScope.USER: ("user", budget.user_id),
        BudgetScope.TOKEN: ("token", budget.token_id),
        BudgetScope.WORKSPACE: ("workspace_id", budget.workspace_id),
        BudgetScope.ROUTER: ("router_id", budget.router_id),
    }
    target = targets.get(budget.scope)
    if target is not None and target[1] is None:
        error(target[0], f"Choose the {target[0].removesuffix('_id')} this budget is for.")
    if budget.period not in Period.values:
        error("period", f"Choose one of {', '.join(Period.values)}.")
    limit = budget.limit
    if (
        not isinstance(limit, Decimal)
        or not limit.is_finite()
        or not Decimal("0.01") <= limit <= MAX_BUDGET_LIMIT
    ):
        error("limit", f"A limit in USD from 0.01 to {MAX_BUDGET_LIMIT:,}.")
    step = budget.step_percent
    if step is not None and (
        isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= 99
    ):
        error("step_percent", "The step is a whole percentage from 1 to 99.")
    tier = budget.step_tier if isinstance(budget.step_tier, str) else ""
    if tier and not TIER_NAME.fullmatch(tier):
        error("step_tier", f"“{tier}” is not a tier name ({TIER_NAME_HELP}).")
    elif tier and step is None:
        error("step_percent", "Set the step (a percentage) the tier applies from.")
    if budget.over_action not in OverAction.values:
        error("over_action", f"Choose one of {', '.join(OverAction.values)}.")
    allowed = budget.allowed
    if not isinstance(allowed, list) or not all(isinstance(ref, str) for ref in allowed):
        error("allowed", "Allowed models must be a list of model refs.")
    elif budget.over_action == OverAction.LISTED and not allowed:
        error("allowed", "List at least one model allowed over the limit.")
    elif catalog_refs is not None:
        unknown = [ref for ref in allowed if ref not in catalog_refs]
        if unknown:
            error("allowed", "Not in the catalog: " + ", ".join(unknown))
    if errors:
        raise ValidationError(errors)


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
def budget_save(*, actor: User, budget: Budget, catalog_refs: set[str] | None = None) -> Budget:
    """Validate (ValidationError by field, nothing saved), store and audit a budget. Only the
    scope's own target is kept, so a budget never binds two things."""
    if budget.scope != BudgetScope.USER:
        budget.user = None
    if budget.scope != BudgetScope.TOKEN:
        budget.token = None
    if budget.scope != BudgetScope.WORKSPACE:
        budget.workspace_id = None
    if budget.scope != BudgetScope.ROUTER:
        budget.router_id = None
    budget_validate(budget, catalog_refs=catalog_refs)
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
