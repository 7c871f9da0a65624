"""Personal preferences: a person's preferred model for a rule of a router, the suggestions
made from their overrides, and whether a router allows preferences at all."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from providers.models import CatalogModel
from routers.models import Router, Rule


class Preference(models.Model):
    """When `rule` of `router` routes one of `user`'s messages — or, for a tier preference,
    the message goes to the router's tier `tier` — `model` answers instead (if suitable;
    policies and budgets still win). A rule preference wins over a tier one."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="model_preferences"
    )
    router = models.ForeignKey(Router, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    tier = models.CharField(max_length=32, blank=True, default="")
    model = models.ForeignKey(CatalogModel, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["router__name", "tier", "rule__position", "rule__id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "rule"], name="preference_one_per_rule"),
            models.UniqueConstraint(
                fields=["user", "router", "tier"],
                condition=~models.Q(tier=""),
                name="preference_one_per_tier",
            ),
            models.CheckConstraint(
                condition=(models.Q(rule__isnull=False) & models.Q(tier=""))
                | (models.Q(rule__isnull=True) & ~models.Q(tier="")),
                name="preference_rule_or_tier",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.router} / {self.target_label} → {self.model.ref}"

    @property
    def target_label(self) -> str:
        return f"tier “{self.tier}”" if self.tier else f"rule “{self.rule}”"

    @property
    def file_target(self) -> str:
        """As the preferences file names it: the rule's name, or `tier:<name>`."""
        return f"tier:{self.tier}" if self.tier else str(self.rule)


class SuggestionState(models.TextChoices):
    PENDING = "pending", "Waiting for an answer"
    ACCEPTED = "accepted", "Accepted"
    DISMISSED = "dismissed", "Dismissed"


class Suggestion(models.Model):
    """A preference suggested from the user's overrides. Made once per (user, rule, model):
    accepting or dismissing it is remembered and it is never suggested again."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference_suggestions"
    )
    router = models.ForeignKey(Router, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="+")
    model_ref = models.CharField(max_length=300)
    state = models.CharField(
        max_length=16, choices=SuggestionState.choices, default=SuggestionState.PENDING
    )
    # What the suggestion was made from: messages of the rule, how many moved, and how.
    evidence = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "rule", "model_ref"], name="suggestion_once_per_rule_model"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.rule} → {self.model_ref} ({self.state})"


class RouterPreferences(models.Model):
    """A router's switch for personal preferences (on unless its managers turned it off)."""

    router = models.OneToOneField(Router, on_delete=models.CASCADE, related_name="+")
    allowed = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.router}: preferences {'on' if self.allowed else 'off'}"
