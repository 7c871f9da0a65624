"""Reads: which policies and budgets apply to a request."""

from __future__ import annotations

from django.db.models import Q

from engine.policy import PolicySet, PolicySpec, compile_policies
from governance.models import Policy, Scope


def policy_spec(policy: Policy) -> PolicySpec:
    return PolicySpec(
        id=policy.pk,
        name=policy.name,
        action=policy.action,  # type: ignore[arg-type]
        detectors=tuple(policy.detectors or ()),
        patterns=policy.lines("patterns"),
        keywords=policy.lines("keywords"),
        approved=tuple(policy.approved or ()),
        scope=policy.scope,
    )


def policy_list_applying(*, workspace_id: int | None, router_id: int | None) -> list[Policy]:
    """Enabled policies for the instance, this workspace and this router."""
    scope = Q(scope=Scope.INSTANCE)
    if workspace_id is not None:
        scope |= Q(scope=Scope.WORKSPACE, workspace_id=workspace_id)
    if router_id is not None:
        scope |= Q(scope=Scope.ROUTER, router_id=router_id)
    return list(Policy.objects.filter(scope, enabled=True).order_by("pk"))


def policy_set_for(*, workspace_id: int | None, router_id: int | None) -> PolicySet:
    """The compiled policies for a request. Policies are validated when saved; one that no
    longer compiles (e.g. a detector removed in an upgrade) raises RuleError, and callers
    refuse the message rather than let it leave unchecked."""
    policies = policy_list_applying(workspace_id=workspace_id, router_id=router_id)
    return compile_policies(policy_spec(p) for p in policies)
