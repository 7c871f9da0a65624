"""Reads for routers: who may see, use or change which router, in one place."""

from __future__ import annotations

from django.db.models import Case, Q, QuerySet, Value, When
from django.http import Http404

from accounts.models import User
from routers.models import Router, Rule, Visibility


def router_list_usable_by(*, user: User) -> QuerySet[Router]:
    """Routers the user may see and use: their own and shared ones (admins see all)."""
    qs = Router.objects.select_related(
        "owner", "primary_model__provider", "classifier_model__provider", "published_version"
    )
    if user.is_admin_role:
        return qs
    return qs.filter(Q(owner=user) | Q(visibility=Visibility.SHARED))


def router_can_use(*, user: User, router: Router) -> bool:
    """`router_list_usable_by` for a router already loaded: every surface that routes through
    a router someone else chose (a workspace's) asks this first."""
    return (
        user.is_admin_role or router.owner_id == user.pk or router.visibility == Visibility.SHARED
    )


def router_unavailable_message(router: Router) -> str:
    """What a user is told, everywhere, when a workspace's router is no longer theirs to use.
    Names the router (they chose it or saw it chosen), never its rules."""
    return (
        f"The router “{router.name}” is no longer available to you: its owner made it private. "
        "Ask whoever manages this workspace to pick another router or a model for it."
    )


def router_can_edit(*, user: User, router: Router) -> bool:
    if user.is_admin_role or router.owner_id == user.pk:
        return True
    return router.visibility == Visibility.SHARED and user.is_manager_role


def router_get_for_user(*, user: User, pk: int) -> Router:
    router = router_list_usable_by(user=user).filter(pk=pk).first()
    if router is None:
        raise Http404("No such router.")
    return router


def router_by_slug_usable_by(
    *, user: User, slug: str, qs: QuerySet[Router] | None = None
) -> Router | None:
    """The router `slug` names for this user: their own first, then the shared one (then, for
    admins, anyone's). Slugs are unique per owner and among shared routers only."""
    qs = router_list_usable_by(user=user) if qs is None else qs
    return (
        qs.filter(slug=slug)
        .annotate(
            _rank=Case(
                When(owner_id=user.pk, then=Value(0)),
                When(visibility=Visibility.SHARED, then=Value(1)),
                default=Value(2),
            )
        )
        .order_by("_rank", "pk")
        .first()
    )


def router_get_by_slug_for_user(*, user: User, slug: str) -> Router:
    router = router_by_slug_usable_by(user=user, slug=slug)
    if router is None:
        raise Http404("No such router.")
    return router


def rule_get_for_router(*, router: Router, pk: int) -> Rule:
    # A rule is only reachable through its own router: a guessed id from another router 404s.
    rule = (
        Rule.objects.filter(pk=pk, router=router).select_related("target_model__provider").first()
    )
    if rule is None:
        raise Http404("No such rule in this router.")
    return rule
