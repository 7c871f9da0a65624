from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private (only me)"
    SHARED = "shared", "Shared with everyone"


class Router(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="routers"
    )
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    primary_model = models.ForeignKey(
        "chat.CatalogModel", on_delete=models.PROTECT, related_name="+"
    )
    classifier_model = models.ForeignKey(
        "chat.CatalogModel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Judges LLM-classified rules. Defaults to the primary model.",
    )
    # Model refs ("provider/model-id") tried in order when the chosen model fails.
    fallbacks = models.JSONField(default=list, blank=True)
    sticky = models.BooleanField(default=False)
    cooldown_minutes = models.PositiveIntegerField(default=30)
    time_zone = models.CharField(max_length=64, default="UTC")
    # Overrides of the failure policy for this router's models (providers.failover
    # OVERRIDE_FIELDS); empty: the site's defaults.
    failover_policy = models.JSONField(default=dict, blank=True)
    # Embeds messages and examples for semantic rules: "provider/model-id" of a catalog
    # embedding model, or a local model ("local/potion-base-8M", the default).
    embedding_model = models.CharField(max_length=300, default="local/potion-base-8M")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RuleKind(models.TextChoices):
    CALCULATED = "calculated", "Calculated"
    LLM = "llm", "LLM-classified"
    SEMANTIC = "semantic", "Semantic (examples)"


class MatchMode(models.TextChoices):
    ALL = "all", "All conditions"
    ANY = "any", "Any condition"


class Rule(models.Model):
    router = models.ForeignKey(Router, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=RuleKind.choices, default=RuleKind.CALCULATED)
    match = models.CharField(max_length=8, choices=MatchMode.choices, default=MatchMode.ALL)
    # [{"property": ..., "operator": ..., "value": ...}], validated by the engine.
    conditions = models.JSONField(default=list, blank=True)
    description = models.TextField(
        blank=True, help_text="For LLM-classified rules: when does this rule apply?"
    )
    target_model = models.ForeignKey(
        "chat.CatalogModel", on_delete=models.PROTECT, related_name="+"
    )
    fallbacks = models.JSONField(default=list, blank=True)
    # Semantic rules: example utterances, cosine-similarity threshold, optional margin.
    examples = models.JSONField(default=list, blank=True)
    threshold = models.FloatField(default=0.7)
    margin = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


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
    workspace = models.ForeignKey(
        "chat.Workspace", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(
        "chat.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["router", "created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.rule_name or self.source} → {self.answered_by or self.model_ref}"
