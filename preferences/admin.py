from __future__ import annotations

from django.contrib import admin

from audit.admin_mixins import AuditedModelAdmin
from preferences.models import Preference, RouterPreferences, Suggestion


@admin.register(Preference)
class PreferenceAdmin(AuditedModelAdmin):
    list_display = ("user", "router", "rule", "model", "updated_at")
    list_select_related = ("user", "router", "rule", "model__provider")


@admin.register(Suggestion)
class SuggestionAdmin(AuditedModelAdmin):
    list_display = ("user", "router", "rule", "model_ref", "state", "created_at", "decided_at")
    list_filter = ("state",)


@admin.register(RouterPreferences)
class RouterPreferencesAdmin(AuditedModelAdmin):
    list_display = ("router", "allowed", "updated_at")
