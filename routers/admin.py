from __future__ import annotations

from django.contrib import admin

from routers.models import Router, RoutingDecision, Rule


class RuleInline(admin.TabularInline):
    model = Rule
    extra = 0
    fields = ("position", "name", "enabled", "kind", "match", "target_model")


@admin.register(Router)
class RouterAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "owner", "visibility", "primary_model", "version")
    inlines = [RuleInline]


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "router",
        "rule_name",
        "answered_by",
        "cost",
        "primary_cost",
        "channel",
    )
    list_filter = ("channel", "source")
