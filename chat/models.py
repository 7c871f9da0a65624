from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import models

from providers.models import CatalogModel

if TYPE_CHECKING:
    from django.db.models.deletion import Collector


class WorkspaceMode(models.TextChoices):
    MODEL = "model", "One model"
    ROUTER = "router", "Model Router"


def _answer_with_primary_model(
    collector: Collector, field: models.Field, sub_objs: Any, using: str
) -> None:
    """`on_delete` for a workspace's router: the workspace goes on answering with the deleted
    router's primary model, so nobody's chat breaks. Declared here, beside the foreign key, so
    the routers app never has to know what points at a router."""
    workspaces = list(sub_objs)
    mode, model = Workspace._meta.get_field("mode"), Workspace._meta.get_field("model")
    assert isinstance(mode, models.Field) and isinstance(model, models.Field)
    collector.add_field_update(field, None, workspaces)
    collector.add_field_update(mode, WorkspaceMode.MODEL, workspaces)
    by_primary: dict[int, list[Workspace]] = {}
    for workspace in workspaces:
        by_primary.setdefault(workspace.router.primary_model_id, []).append(workspace)
    for primary_id, group in by_primary.items():
        collector.add_field_update(model, CatalogModel(pk=primary_id), group)


class WorkspaceType(models.TextChoices):
    GENERAL = "general", "General"
    CODING = "coding", "Coding"
    WRITING = "writing", "Writing"
    RESEARCH = "research", "Research"


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
        on_delete=_answer_with_primary_model,
        related_name="workspaces",
    )
    tags = models.JSONField(default=list, blank=True)
    # What the workspace is for: rules test it (`workspace_type = coding`) before the message.
    workspace_type = models.CharField(
        max_length=16, choices=WorkspaceType.choices, default=WorkspaceType.GENERAL
    )
    # The router tier every message of this workspace uses ("": the router decides).
    tier = models.CharField(max_length=32, blank=True, default="")
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
    # A router tier the user asked for with /tier: its model answers until /tier auto.
    tier = models.CharField(max_length=32, blank=True, default="")
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
