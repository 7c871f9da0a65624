from __future__ import annotations

from django.contrib import admin

from decisions.models import RoutingDecision


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
