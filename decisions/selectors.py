"""Reads of the routing log, scoped to what a user may see."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import User
from decisions.models import RoutingDecision
from routers.models import Visibility


def decision_list_visible_to(*, user: User) -> QuerySet[RoutingDecision]:
    """Decisions of routers the user may edit, and the user's own (mirrors `router_can_edit`)."""
    qs = RoutingDecision.objects.select_related("user")
    if user.is_admin_role:
        return qs
    editable = Q(router__owner=user)
    if user.is_manager_role:
        editable |= Q(router__visibility=Visibility.SHARED)
    return qs.filter(editable | Q(user=user))
