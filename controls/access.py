"""Who may see and change budgets and policies: one set of rules for the pages and the JSON
API. Budgets: admins and managers. Policies: admins every one; a workspace's whoever manages
the workspace; a router's whoever may edit the router; the instance's are the admins'."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404

from accounts.models import User
from chat.models import Workspace
from controls.forms import routers_editable_by, workspaces_managed_by
from governance.models import Policy, Scope
from routers.models import Router
from routers.selectors import router_list_usable_by

POLICY_FORBIDDEN = (
    "Only admins change instance policies; a workspace's policies are changed by whoever "
    "manages the workspace, a router's by whoever may edit the router."
)


def budget_require_manager(user: User) -> None:
    if not (user.is_admin_role or user.is_manager_role):
        raise PermissionDenied("Only admins and managers manage budgets.")


def policy_can_manage(user: User, policy: Policy) -> bool:
    """Admins: every policy. Others: a workspace's if they manage it, a router's if they may
    edit it (owners, managers for shared routers). The instance's are the admins'."""
    if user.is_admin_role:
        return True
    if policy.scope == Scope.WORKSPACE and policy.workspace_id is not None:
        return workspaces_managed_by(user).filter(pk=policy.workspace_id).exists()
    if policy.scope == Scope.ROUTER and policy.router_id is not None:
        return routers_editable_by(user).filter(pk=policy.router_id).exists()
    return False


def policies_visible_to(user: User) -> list[Policy]:
    """What binds them or what they manage: the instance's policies, those of the workspaces
    they belong to or manage, and of the routers they may use or edit."""
    policies = Policy.objects.order_by("name", "pk")
    if user.is_admin_role:
        return list(policies)
    workspace_ids = set(Workspace.objects.filter(members=user).values_list("pk", flat=True))
    workspace_ids |= set(workspaces_managed_by(user).values_list("pk", flat=True))
    router_ids = set(router_list_usable_by(user=user).values_list("pk", flat=True))
    router_ids |= set(routers_editable_by(user).values_list("pk", flat=True))
    return list(
        policies.filter(
            Q(scope=Scope.INSTANCE)
            | Q(scope=Scope.WORKSPACE, workspace_id__in=workspace_ids)
            | Q(scope=Scope.ROUTER, router_id__in=router_ids)
        )
    )


def policy_for(user: User, pk: int) -> Policy:
    """The policy to change: 404 unless they can see it, 403 unless they manage it."""
    policy = next((p for p in policies_visible_to(user) if p.pk == pk), None)
    if policy is None:
        raise Http404("No such policy.")
    if not policy_can_manage(user, policy):
        raise PermissionDenied(POLICY_FORBIDDEN)
    return policy


def policy_can_create(user: User) -> bool:
    return (
        user.is_admin_role
        or workspaces_managed_by(user).exists()
        or routers_editable_by(user).exists()
    )


def policy_may_target(user: User, policy: Policy) -> None:
    """Unless `user` may own a policy with this scope and target (the one it is being given,
    on create or when a change moves it): ValidationError for a target that names nothing,
    PermissionDenied for one they do not manage."""
    if policy.scope == Scope.INSTANCE and not user.is_admin_role:
        raise PermissionDenied("Only admins set policies for everyone (the instance).")
    workspace_id = policy.workspace_id if policy.scope == Scope.WORKSPACE else None
    router_id = policy.router_id if policy.scope == Scope.ROUTER else None
    if workspace_id is not None:
        if not Workspace.objects.filter(pk=workspace_id).exists():
            raise ValidationError({"workspace_id": ["No workspace has this id."]})
        if not workspaces_managed_by(user).filter(pk=workspace_id).exists():
            raise PermissionDenied("Only whoever manages the workspace sets its policies.")
    if router_id is not None:
        if not Router.objects.filter(pk=router_id).exists():
            raise ValidationError({"router_id": ["No router has this id."]})
        if not routers_editable_by(user).filter(pk=router_id).exists():
            raise PermissionDenied("Only whoever may edit the router sets its policies.")
