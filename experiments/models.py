"""An experiment splits a router's traffic between two of its published versions."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from routers.models import Router, RouterVersion


class Arm(models.TextChoices):
    CONTROL = "control", "Control"
    VARIANT = "variant", "Variant"


class Outcome(models.TextChoices):
    VARIANT = "variant", "Published the variant"
    CONTROL = "control", "Kept the control"


class Experiment(models.Model):
    """`percent` of the router's traffic (whole threads; on `/v1`, whole users) routes with
    `variant`, the rest with `control` (the version that was live when it started). One
    running experiment per router; ending it publishes the variant or keeps the control."""

    router = models.ForeignKey(Router, on_delete=models.CASCADE, related_name="experiments")
    name = models.CharField(max_length=100, blank=True)
    control = models.ForeignKey(RouterVersion, on_delete=models.PROTECT, related_name="+")
    variant = models.ForeignKey(RouterVersion, on_delete=models.PROTECT, related_name="+")
    percent = models.PositiveSmallIntegerField(help_text="Share of traffic for the variant (1–99).")
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["router"],
                condition=models.Q(ended_at__isnull=True),
                name="experiment_one_running_per_router",
            ),
            models.CheckConstraint(
                condition=models.Q(percent__gte=1, percent__lte=99),
                name="experiment_percent_1_to_99",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.router}: v{self.control.number} vs v{self.variant.number} ({self.percent}%)"

    @property
    def running(self) -> bool:
        return self.ended_at is None
