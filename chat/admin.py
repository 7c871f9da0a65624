from __future__ import annotations

from django.contrib import admin

from audit.admin_mixins import AuditedModelAdmin
from chat.models import Attachment, Message, Thread, Workspace


@admin.register(Workspace)
class WorkspaceAdmin(AuditedModelAdmin):
    list_display = ("name", "owner", "mode", "model", "router")
    filter_horizontal = ("members",)


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin):
    list_display = ("title", "workspace", "owner", "updated_at")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "thread", "role", "status", "model_ref", "cost", "created_at")
    list_filter = ("role", "status")


admin.site.register(Attachment)
