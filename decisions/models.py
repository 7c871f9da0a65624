"""The routing log: one row per routed message, from the chat or the /v1 API."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models

from routers.models import Router, Rule


class RoutingDecision(models.Model):
    """One routed message (chat or API), written asynchronously by a Celery task."""

    # Idempotency key: the task may run twice; the record is written once.
    uid = models.UUIDField(default=uuid.uuid4, unique=True)
    router = models.ForeignKey(
        Router, null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions"
    )
    router_version = models.PositiveIntegerField(default=0)
    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule_name = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=16, blank=True)  # rule | sticky | primary | override
    reason = models.TextField(blank=True)
    model_ref = models.CharField(max_length=300, blank=True)
    answered_by = models.CharField(max_length=300, blank=True)
    attempts = models.JSONField(default=list, blank=True)
    verdicts = models.JSONField(default=list, blank=True)
    classifier_called = models.BooleanField(default=False)
    classifier_latency_ms = models.FloatField(null=True, blank=True)
    classifier_input_tokens = models.PositiveIntegerField(default=0)
    classifier_output_tokens = models.PositiveIntegerField(default=0)
    decision_us = models.FloatField(default=0)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    primary_cost = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    fallback_used = models.BooleanField(default=False)
    overridden = models.BooleanField(default=False)
    succeeded = models.BooleanField(default=True)
    channel = models.CharField(max_length=16, default="chat")  # chat | api
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Plain ids, not foreign keys: the log sits below the chat app and outlives its rows.
    workspace_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    message_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        # The table and index keep the names they had in the routers app (state-only move).
        db_table = "routers_routingdecision"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["router", "created_at"], name="routers_rou_router__aa8e5f_idx")
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.rule_name or self.source} → {self.answered_by or self.model_ref}"
