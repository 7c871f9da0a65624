"""Reads of personal preferences."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User
from preferences.models import Preference, RouterPreferences, Suggestion, SuggestionState


def preferences_allowed(*, router_id: int) -> bool:
    """Personal preferences are on unless the router's managers turned them off."""
    return not RouterPreferences.objects.filter(router_id=router_id, allowed=False).exists()


def preferences_for_router(*, user_id: int, router_id: int) -> dict[str, str]:
    """ "rule:<id>" / "tier:<name>" → preferred model ref for this user and router ({} when the
    router does not allow preferences): what a plan holds (the /v1 gateway keeps it with its
    prepared plan), one query."""
    rows = (
        Preference.objects.filter(user_id=user_id, router_id=router_id)
        .exclude(router_id__in=RouterPreferences.objects.filter(allowed=False).values("router_id"))
        .values_list("rule_id", "tier", "model__provider__slug", "model__model_id")
    )
    return {
        (f"tier:{tier}" if tier else f"rule:{rule_id}"): f"{slug}/{model_id}"
        for rule_id, tier, slug, model_id in rows
    }


def preference_list_for(*, user: User) -> QuerySet[Preference]:
    return Preference.objects.filter(user=user).select_related("router", "rule", "model__provider")


def suggestion_list_pending(*, user: User, router_id: int | None = None) -> QuerySet[Suggestion]:
    qs = Suggestion.objects.filter(user=user, state=SuggestionState.PENDING).select_related(
        "router", "rule"
    )
    if router_id is not None:
        qs = qs.filter(router_id=router_id)
    return qs


def suggestion_list_decided(*, user: User) -> QuerySet[Suggestion]:
    return (
        Suggestion.objects.filter(user=user)
        .exclude(state=SuggestionState.PENDING)
        .select_related("router", "rule")
    )
