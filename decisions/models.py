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
    # The tier the turn used ("" when none) and why: user | workspace | rule | escalation |
    # default; the classifier's category and complexity when it judged them.
    tier = models.CharField(max_length=32, blank=True, default="")
    tier_source = models.CharField(max_length=16, blank=True, default="")
    category = models.CharField(max_length=32, blank=True, default="")
    complexity = models.CharField(max_length=16, blank=True, default="")
    # The profile whose ranked models the rule sent to ("" when the rule targets a model or a
    # tier); the data policies that applied (their names, never what they found) and the
    # strongest action among them (refuse, restrict, mask); the budget whose step changed the
    # routing and the step (step_down, listed, refused).
    profile = models.CharField(max_length=40, blank=True, default="")
    policy = models.CharField(max_length=300, blank=True, default="")
    policy_action = models.CharField(max_length=16, blank=True, default="")
    budget = models.CharField(max_length=100, blank=True, default="")
    budget_step = models.CharField(max_length=16, blank=True, default="")
    fallback_used = models.BooleanField(default=False)
    overridden = models.BooleanField(default=False)
    succeeded = models.BooleanField(default=True)
    channel = models.CharField(max_length=16, default="chat")  # chat | api
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The experiment (experiments.Experiment, a plain id) whose arm routed this message, and
    # the arm ("control" or "variant"); `router_version` is that arm's version.
    experiment_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    arm = models.CharField(max_length=8, blank=True)
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


class Rating(models.TextChoices):
    UP = "up", "Good answer"
    DOWN = "down", "Bad answer"


class Feedback(models.Model):
    """A person's thumbs up or down on one answer, with an optional reason.

    Keyed by the answer's routing-decision uid (the `/v1` completion id, or the uid a chat
    answer carries), not a foreign key: the decision is written asynchronously and may not be
    stored yet when the thumb is pressed. The rule and model are copied from the answer, so
    analytics need no join and survive the log's retention."""

    decision_uid = models.UUIDField(unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    router = models.ForeignKey(
        Router, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    router_version = models.PositiveIntegerField(default=0)
    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule_name = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=16, blank=True)  # as RoutingDecision.source
    model_ref = models.CharField(max_length=300, blank=True)
    rating = models.CharField(max_length=8, choices=Rating.choices)
    reason = models.CharField(max_length=500, blank=True)
    channel = models.CharField(max_length=16, default="chat")  # chat | api
    message_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["router", "created_at"])]

    def __str__(self) -> str:
        return f"{self.rating} on {self.model_ref} ({self.rule_name or self.source})"


class EventKind(models.TextChoices):
    REGENERATE = "regenerate", "Regenerated"
    PIN = "pin", "Pinned another model (/model)"
    SEND_TO = "send_to", "Sent to another model"


class RoutingEvent(models.Model):
    """Something a person did about where the router sent a message: regenerated the answer
    (routed again, or with a model they picked), pinned the thread to another model after it
    (`/model`, the picker), or sent the message to another model than the router's choice.

    `from_model`/`rule` are what the router chose; `to_model` what the person picked ("" when
    regenerated as routed). `moved` is true when the person chose a different model than the
    router: that is an override, counted per rule and model."""

    kind = models.CharField(max_length=16, choices=EventKind.choices)
    # The decision this event answers to (chat: the answer regenerated or followed by a pin);
    # empty for a message sent elsewhere before the router answered it.
    decision_uid = models.UUIDField(null=True, blank=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    router = models.ForeignKey(
        Router, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    router_version = models.PositiveIntegerField(default=0)
    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule_name = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=16, blank=True)
    from_model = models.CharField(max_length=300, blank=True)
    to_model = models.CharField(max_length=300, blank=True)
    moved = models.BooleanField(default=False)
    channel = models.CharField(max_length=16, default="chat")
    message_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["router", "created_at"]),
            models.Index(fields=["user", "router", "rule"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.from_model} → {self.to_model or '(routed again)'}"
