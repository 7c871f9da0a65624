"""Suggesting a preference from a person's overrides: when at least `MIN_MESSAGES` of their
messages were routed by a rule and more than `MIN_SHARE` of them were moved to one model
(regenerated with it, the thread pinned to it after the answer, or sent to it instead), the
app suggests that model for the rule — once: the suggestion is kept, and accepting or
dismissing it is remembered."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from decisions.feedback import override_pattern
from preferences.models import Preference, Suggestion
from preferences.selectors import preferences_allowed
from providers.selectors import catalog_get_by_ref
from routers.models import Rule

MIN_MESSAGES = 5
MIN_SHARE = 0.30


def suggestion_consider(*, user: User, router_id: int, rule_id: int) -> Suggestion | None:
    """After an override of this rule: a new pending suggestion if the pattern holds."""
    pattern = override_pattern(user=user, router_id=router_id, rule_id=rule_id)
    if pattern is None or pattern.messages < MIN_MESSAGES or pattern.share <= MIN_SHARE:
        return None
    if Preference.objects.filter(user=user, rule_id=rule_id).exists():
        return None
    if Suggestion.objects.filter(user=user, rule_id=rule_id, model_ref=pattern.model).exists():
        return None  # suggested once already (and maybe answered)
    if not preferences_allowed(router_id=router_id) or catalog_get_by_ref(pattern.model) is None:
        return None
    rule = Rule.objects.filter(pk=rule_id, router_id=router_id).first()
    if rule is None:
        return None
    try:
        with transaction.atomic():
            return Suggestion.objects.create(
                user=user,
                router_id=router_id,
                rule=rule,
                model_ref=pattern.model,
                evidence={
                    "messages": pattern.messages,
                    "moved": pattern.moved,
                    "regenerated": pattern.regenerated,
                    "pinned": pattern.pinned,
                    "sent": pattern.sent,
                },
                created_at=timezone.now(),
            )
    except IntegrityError:  # made by a concurrent request
        return None
