"""Golden sets (per router: messages and what each should reach) and replays of logged traffic."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from routers.models import Router


class Expect(models.TextChoices):
    RULE = "rule", "Rule"
    MODEL = "model", "Model"
    TIER = "tier", "Tier"
    # Refused by a data policy (`expected`: the policy's name, or "" for any).
    REFUSED = "refused", "Refused by a policy"


class GoldenCase(models.Model):
    """One test message of a router's golden set and the rule, tier or model it should reach.

    An expected rule of "" means no rule: the primary model answers. An expected tier is one
    of the router's tier names, compared with the tier the turn resolved (engine/tiers.py). The context fields are
    what calculated rules may test (user, workspace and its tags, time of day, an image)."""

    router = models.ForeignKey(Router, on_delete=models.CASCADE, related_name="golden_cases")
    message = models.TextField()
    # Earlier turns, oldest first: [["user" | "assistant", text], ...]
    history = models.JSONField(default=list, blank=True)
    has_image = models.BooleanField(default=False)
    time_of_day = models.CharField(max_length=5, blank=True)  # "HH:MM", the router's zone
    user_name = models.CharField(max_length=150, blank=True)
    groups = models.JSONField(default=list, blank=True)
    workspace_name = models.CharField(max_length=100, blank=True)
    workspace_tags = models.JSONField(default=list, blank=True)
    expect = models.CharField(max_length=8, choices=Expect.choices, default=Expect.RULE)
    expected = models.CharField(max_length=300, blank=True)
    # Where it came from ("decision 9f…", "chat message 12") or "" when typed.
    source = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.message[:60]

    def context_parts(self) -> list[str]:
        """The case's context in words, for its line on the golden set page."""
        parts = []
        if self.history:
            parts.append(f"{len(self.history)} earlier turn{'s' if len(self.history) != 1 else ''}")
        if self.has_image:
            parts.append("image")
        if self.time_of_day:
            parts.append(f"at {self.time_of_day}")
        if self.user_name:
            parts.append(f"user {self.user_name}")
        if self.workspace_name:
            parts.append(f"workspace {self.workspace_name}")
        if self.workspace_tags:
            parts.append(f"tags {', '.join(self.workspace_tags)}")
        return parts


class ReplayStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    CAPPED = "capped", "Stopped at the cost cap"
    FAILED = "failed", "Failed"


class ReplayRun(models.Model):
    """A version (or the draft) replayed over a router's logged messages of a period."""

    router = models.ForeignKey(Router, on_delete=models.CASCADE, related_name="replays")
    # None: the draft as it stood when the replay started (its snapshot is kept below).
    version_number = models.PositiveIntegerField(null=True, blank=True)
    snapshot = models.JSONField(default=dict)
    start = models.DateTimeField()
    end = models.DateTimeField()
    cap = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("1"))
    estimate_calls = models.PositiveIntegerField(default=0)
    estimate_cost = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    status = models.CharField(
        max_length=16, choices=ReplayStatus.choices, default=ReplayStatus.QUEUED
    )
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    skipped_no_text = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    # [{"from_rule", "to_rule", "from_model", "to_model", "count"}], most frequent first.
    transitions = models.JSONField(default=list, blank=True)
    cost_before = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal("0"))
    cost_after = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal("0"))
    classifier_calls = models.PositiveIntegerField(default=0)
    classifier_cost = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"replay {self.pk} of {self.router}"

    @property
    def finished(self) -> bool:
        return self.status in (ReplayStatus.DONE, ReplayStatus.CAPPED, ReplayStatus.FAILED)

    @property
    def percent(self) -> int:
        return int(100 * self.processed / self.total) if self.total else 100

    @property
    def label(self) -> str:
        return "the draft" if self.version_number is None else f"v{self.version_number}"
