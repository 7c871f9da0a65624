"""Providers and their catalog: the LLM backends and the models routing chooses between.

The tables keep their original names (chat_provider, chat_catalogmodel): the models moved here
from the chat app with state-only migrations, so existing databases upgrade without copying.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from providers import crypto


class ProviderKind(models.TextChoices):
    OPENAI = "openai", "OpenAI"
    ANTHROPIC = "anthropic", "Anthropic"
    GEMINI = "gemini", "Google Gemini"
    OPENAI_COMPATIBLE = (
        "openai_compatible",
        "OpenAI-compatible (Ollama, vLLM, LM Studio, OpenRouter…)",
    )
    DEMO = "demo", "Demo (offline, simulated)"


class Provider(models.Model):
    """A configured LLM backend. Only admins manage these."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(
        max_length=50, unique=True, help_text="Used in model references: slug/model-id."
    )
    kind = models.CharField(max_length=32, choices=ProviderKind.choices)
    base_url = models.URLField(
        blank=True, help_text="Leave empty for the provider's default endpoint."
    )
    api_key_encrypted = models.TextField(blank=True, editable=False)
    connect_timeout = models.FloatField(
        default=10.0, help_text="Seconds to establish a connection."
    )
    read_timeout = models.FloatField(default=120.0, help_text="Seconds to wait for data.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "chat_provider"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def api_key(self) -> str:
        return crypto.decrypt(self.api_key_encrypted)

    @api_key.setter
    def api_key(self, value: str) -> None:
        self.api_key_encrypted = crypto.encrypt(value)

    @property
    def api_key_masked(self) -> str:
        return crypto.mask(self.api_key)


class ModelKind(models.TextChoices):
    CHAT = "chat", "Chat"
    EMBEDDING = "embedding", "Embedding"


class SizeClass(models.TextChoices):
    SMALL = "small", "Small (fast, cheap)"
    MEDIUM = "medium", "Medium"
    LARGE = "large", "Large (most capable)"


class CatalogModel(models.Model):
    """One model offered by a provider, with the prices and capabilities routing relies on.

    `kind` "embedding" models embed text for semantic rules: they are never offered as chat
    models; `input_price_per_m` is their price per 1M tokens and `dimensions` their vector size.
    `family` ("claude", "llama") and `size_class` are what profiles select and rank by.
    """

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="models")
    model_id = models.CharField(max_length=200)
    display_name = models.CharField(max_length=200)
    context_window = models.PositiveIntegerField(default=128_000)
    input_price_per_m = models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal("0"), help_text="USD per 1M input tokens."
    )
    output_price_per_m = models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal("0"), help_text="USD per 1M output tokens."
    )
    supports_images = models.BooleanField(default=False)
    supports_tools = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    kind = models.CharField(max_length=16, choices=ModelKind.choices, default=ModelKind.CHAT)
    dimensions = models.PositiveIntegerField(
        null=True, blank=True, help_text="Embedding models: the vector size (checked on use)."
    )
    family = models.CharField(
        max_length=40,
        blank=True,
        help_text="The model's family, lower case (claude, gpt, gemini, llama, mistral…): "
        "routers prefer families for profiles.",
    )
    size_class = models.CharField(
        max_length=8,
        choices=SizeClass.choices,
        blank=True,
        help_text="Profiles select by size: small (fast, cheap), medium or large.",
    )

    class Meta:
        db_table = "chat_catalogmodel"
        ordering = ["provider__name", "display_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "model_id"], name="unique_model_per_provider"
            )
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.ref})"

    @property
    def ref(self) -> str:
        return f"{self.provider.slug}/{self.model_id}"

    def cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        total = self.input_price_per_m * input_tokens + self.output_price_per_m * output_tokens
        return (total / Decimal(1_000_000)).quantize(Decimal("0.000001"))
