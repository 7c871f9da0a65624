"""Sensitive-data policies and spend budgets.

This app sits below the planner (`routers`), so it refers to workspaces and routers by plain
id, as the routing log does: a policy or budget whose workspace or router is deleted simply
never applies again (the pages say so).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Scope(models.TextChoices):
    INSTANCE = "instance", "Everyone (instance)"
    WORKSPACE = "workspace", "A workspace"
    ROUTER = "router", "A router"


class Action(models.TextChoices):
    RESTRICT = "restrict", "Approved models only"
    REFUSE = "refuse", "Refuse the message"
    MASK = "mask", "Mask before it leaves"


class Policy(models.Model):
    """Detectors + one action, for the whole instance, one workspace or one router."""

    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.INSTANCE)
    workspace_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    router_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    detectors = models.JSONField(default=list, blank=True)  # keys of engine.policy.DETECTORS
    patterns = models.TextField(blank=True)  # RE2, one per line
    keywords = models.TextField(blank=True)  # one per line
    action = models.CharField(max_length=16, choices=Action.choices, default=Action.RESTRICT)
    approved = models.JSONField(default=list, blank=True)  # model refs, in preference order
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.name

    def lines(self, field: str) -> tuple[str, ...]:
        return tuple(line.strip() for line in getattr(self, field).splitlines() if line.strip())


class BudgetScope(models.TextChoices):
    USER = "user", "A person"
    WORKSPACE = "workspace", "A workspace"
    TOKEN = "token", "An API token"
    ROUTER = "router", "A router"


class Period(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"


class OverAction(models.TextChoices):
    REFUSE = "refuse", "Refuse with a clear message"
    LISTED = "listed", "Allow only the listed models"


class Budget(models.Model):
    """A spend limit over a calendar period in the instance's time zone, with an optional
    soft step (over `step_percent`: the cheapest suitable model) before the hard limit."""

    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    scope = models.CharField(max_length=16, choices=BudgetScope.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    token = models.ForeignKey(
        "accounts.ApiToken", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    workspace_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    router_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.MONTH)
    limit = models.DecimalField(max_digits=12, decimal_places=4)
    step_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    # Past the step: route as if this tier of the router were chosen (blank: the cheapest
    # suitable model). A message routed without a router, or whose router has no model for the
    # tier, gets the cheapest suitable model, and the reason says so.
    step_tier = models.CharField(max_length=32, blank=True)
    over_action = models.CharField(
        max_length=8, choices=OverAction.choices, default=OverAction.REFUSE
    )
    allowed = models.JSONField(default=list, blank=True)  # model refs for OverAction.LISTED
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class SpendEntry(models.Model):
    """What one answer cost (every attempt and the classifier call), by everything a budget
    may be scoped to. Written with the answer, idempotent on `uid`; the shared-cache
    counters are rebuilt from these rows when the cache has lost them."""

    uid = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(db_index=True)
    cost = models.DecimalField(max_digits=14, decimal_places=6)
    user_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    workspace_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    token_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    router_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    channel = models.CharField(max_length=16, default="chat")

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "spend entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.channel} ${self.cost}"
