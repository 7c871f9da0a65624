from __future__ import annotations

import uuid
from decimal import Decimal
from typing import cast

from django.conf import settings
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


class CatalogModel(models.Model):
    """One model offered by a provider, with the prices and capabilities routing relies on."""

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

    class Meta:
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


class WorkspaceMode(models.TextChoices):
    MODEL = "model", "One model"
    ROUTER = "router", "Model Router"


class Workspace(models.Model):
    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_workspaces"
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="workspaces", blank=True
    )
    system_prompt = models.TextField(blank=True)
    mode = models.CharField(
        max_length=16, choices=WorkspaceMode.choices, default=WorkspaceMode.MODEL
    )
    model = models.ForeignKey(
        CatalogModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    router = models.ForeignKey(
        "routers.Router",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="workspaces",
    )
    tags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Thread(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="threads")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="threads"
    )
    title = models.CharField(max_length=200, default="New chat")
    # A model the user picked for this thread: bypasses the workspace's router until cleared.
    override_model = models.ForeignKey(
        CatalogModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.title


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    STREAMING = "streaming", "Streaming"
    COMPLETE = "complete", "Complete"
    INCOMPLETE = "incomplete", "Cut off"
    ERROR = "error", "Failed"


class Message(models.Model):
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    # "note": the outcome of a chat command, shown in the thread but never sent to a model.
    role = models.CharField(
        max_length=16, choices=[("user", "User"), ("assistant", "Assistant"), ("note", "Note")]
    )
    content = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.COMPLETE
    )
    error = models.TextField(blank=True)
    # For assistant messages: who answered and what it cost.
    model = models.ForeignKey(
        CatalogModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_ref = models.CharField(max_length=300, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    usage_estimated = models.BooleanField(default=False)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    # The routing badge as shown (survives reloads): model, rule, reason, attempts, verdicts.
    routing = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"

    @property
    def cut_off(self) -> bool:
        """An answer that broke off (not stopped by the user) and keeps what was received."""
        return self.status == MessageStatus.INCOMPLETE and not self.routing.get("stopped")

    @property
    def next_model_ref(self) -> str:
        """For a cut-off answer: the model offered to continue it or answer again — the first of
        its chain not tried yet, else the first besides the one whose text it ends with."""
        chain = self.routing.get("chain", [])
        tried = {a.get("model") for a in self.routing.get("attempts", [])}
        shown_by = (self.routing.get("models") or [self.model_ref])[-1]
        untried = [ref for ref in chain if ref not in tried]
        # Every model was tried already: offer the next one again rather than none (a model
        # that did not continue once may well the next time).
        others = [ref for ref in chain if ref != shown_by]
        return (untried or others or [""])[0]


def _attachment_path(instance: Attachment, filename: str) -> str:
    return f"attachments/{uuid.uuid4().hex}/{filename}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=_attachment_path)
    mime_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        # Every attachment is saved with its file, so the name is set.
        return cast(str, self.file.name)

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")
