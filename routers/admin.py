from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.admin_mixins import AuditedModelAdmin
from routers.forms import ProfileForm
from routers.models import Profile, Router, Rule
from routers.profiles import profile_delete, profile_save


class RuleInline(admin.TabularInline):
    model = Rule
    extra = 0
    fields = (
        "position", "name", "enabled", "kind", "match", "target_model", "target_profile",
        "target_tier",
    )  # fmt: skip


@admin.register(Router)
class RouterAdmin(AuditedModelAdmin):
    list_display = ("name", "slug", "owner", "visibility", "primary_model", "version")
    inlines = [RuleInline]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    """Admin-defined profiles, saved and deleted through the same audited services as the
    Profiles page and the JSON API (routers/profiles.py): each bumps the routing configuration
    so every router whose rules target the profile picks the change up at once."""

    form = ProfileForm
    list_display = ("name", "description", "size_classes", "min_context", "max_price")

    def save_model(self, request: HttpRequest, obj: Profile, form: Any, change: bool) -> None:
        profile_save(actor=request.user, profile=obj)  # type: ignore[arg-type]

    def delete_model(self, request: HttpRequest, obj: Profile) -> None:
        profile_delete(actor=request.user, profile=obj)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)
