from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from engine import ProfileSpec
from engine.facets import DEFAULT_CATEGORIES
from engine.tiers import DEFAULT_TIERS


def default_tiers() -> list[dict[str, str]]:
    """A new router's tiers: balanced, smart, coding, deep, all unset (engine/tiers.py)."""
    return [
        {"name": t.name, "model": t.model, "fallback": t.fallback, "description": t.description}
        for t in DEFAULT_TIERS
    ]


def default_categories() -> list[str]:
    return list(DEFAULT_CATEGORIES)


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private (only me)"
    SHARED = "shared", "Shared with everyone"


class Router(models.Model):
    name = models.CharField(max_length=100)
    # Unique per owner, and among shared routers (see the constraints): someone else's private
    # router never blocks a slug, so choosing one reveals nothing about it.
    slug = models.SlugField(max_length=60)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="routers"
    )
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    primary_model = models.ForeignKey(
        "providers.CatalogModel", on_delete=models.PROTECT, related_name="+"
    )
    classifier_model = models.ForeignKey(
        "providers.CatalogModel",
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
    # Model families ("claude", "llama"), first preferred first: they order a profile's models
    # before price does.
    preferred_families = models.JSONField(default=list, blank=True)
    # Named tiers, in order: [{"name", "model" ("provider/model-id" or ""), "fallback" (a
    # tier name or ""), "description"}], validated by the engine (engine/tiers.py).
    tiers = models.JSONField(default=default_tiers, blank=True)
    # Where a message no rule matches goes: this tier; "" for the primary model.
    default_tier = models.CharField(max_length=32, blank=True, default="")
    # Dynamic escalation: the classifier may promote a default-tier turn to a higher tier.
    escalation = models.BooleanField(default=False)
    # The task categories the classifier chooses from (engine/facets.py).
    categories = models.JSONField(default=default_categories, blank=True)
    # The draft's edit count: every edit of the router or its rules bumps it (it keys the draft's
    # caches). Traffic uses `published_version`, a snapshot, until the draft is published.
    version = models.PositiveIntegerField(default=1)
    # The version traffic uses (routers/versions.py). None only for a router made outside the
    # services (Django admin, raw ORM) and never published: its rows route as they stand.
    # RESTRICT: the live version cannot be deleted, except with its router.
    published_version = models.ForeignKey(
        "routers.RouterVersion",
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "slug"], name="router_slug_unique_per_owner"),
            models.UniqueConstraint(
                fields=["slug"],
                condition=models.Q(visibility="shared"),
                name="router_slug_unique_among_shared",
            ),
        ]

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
    # A rule targets a model, or a profile (`target_profile`, a name): then the profile's
    # best models answer and `target_model` is empty.
    target_model = models.ForeignKey(
        "providers.CatalogModel", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    target_profile = models.CharField(max_length=40, blank=True)
    # ... or to one of the router's tiers (`target_tier`, a name; `target_model` empty then).
    target_tier = models.CharField(max_length=32, blank=True, default="")
    fallbacks = models.JSONField(default=list, blank=True)
    # Semantic rules: example utterances, cosine-similarity threshold, optional margin.
    examples = models.JSONField(default=list, blank=True)
    threshold = models.FloatField(default=0.7)
    margin = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def target_ref(self) -> str:
        """The engine's target: "tier:<name>" or "provider/model-id"."""
        if self.target_tier:
            return f"tier:{self.target_tier}"
        return self.target_model.ref if self.target_model is not None else ""

    @property
    def target_label(self) -> str:
        if self.target_tier:
            return f"tier {self.target_tier}"
        return self.target_model.display_name if self.target_model is not None else "(none)"


class RouterVersion(models.Model):
    """A published version of a router: an immutable snapshot of its routing settings and
    rules, in the export format (routers/schemas.py) with each rule's id added, so a rule keeps
    its identity (and its decisions and analytics) across versions."""

    router = models.ForeignKey(Router, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A rollback publishes an old snapshot again: the number it was copied from.
    restored_from = models.PositiveIntegerField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["router", "number"], name="router_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.router} v{self.number}"


class PublishedRouter(Router):
    """A router as its published version defines it (`routers.versions.router_published`):
    the row's identity (id, name, slug, owner, visibility) with the snapshot's settings and
    rules. Built in memory for traffic; never saved."""

    # Set by routers.versions: the cache key of this rule set ("v3") and the snapshot's rules.
    revision: str = ""
    snapshot_rules: list[dict[str, Any]]

    class Meta:
        proxy = True

    def save(self, *args: object, **kwargs: object) -> None:
        raise TypeError("A published router is a read-only view; edit the router's draft.")

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise TypeError("A published router is a read-only view.")


class Profile(models.Model):
    """A profile an admin defines (or a built-in one redefined, by its name): what a model
    must offer for rules that target it. See engine/profiles.py."""

    name = models.CharField(max_length=40, unique=True)
    description = models.CharField(max_length=300, blank=True)
    needs_images = models.BooleanField(default=False)
    needs_tools = models.BooleanField(default=False)
    min_context = models.PositiveIntegerField(default=0, help_text="Minimum context window.")
    max_price = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="USD per 1M input + 1M output tokens; empty: any price.",
    )
    # Any of "small", "medium", "large"; empty: any size.
    size_classes = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def spec(self) -> ProfileSpec:
        return ProfileSpec(
            name=self.name,
            description=self.description,
            needs_images=self.needs_images,
            needs_tools=self.needs_tools,
            min_context=self.min_context,
            max_price=float(self.max_price) if self.max_price is not None else None,
            size_classes=tuple(self.size_classes or ()),
        )
