from __future__ import annotations

from django.contrib import admin

from audit.admin_mixins import AuditedModelAdmin
from routers.models import Router, Rule


class RuleInline(admin.TabularInline):
    model = Rule
    extra = 0
    fields = ("position", "name", "enabled", "kind", "match", "target_model")


@admin.register(Router)
class RouterAdmin(AuditedModelAdmin):
    list_display = ("name", "slug", "owner", "visibility", "primary_model", "version")
    inlines = [RuleInline]
