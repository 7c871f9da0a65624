from __future__ import annotations

from django.contrib import admin

from decisions.models import Feedback, RoutingDecision, RoutingEvent


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


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "rating", "rule_name", "model_ref", "channel", "reason")
    list_filter = ("rating", "channel")


@admin.register(RoutingEvent)
class RoutingEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "kind", "rule_name", "from_model", "to_model", "moved")
    list_filter = ("kind", "moved", "channel")
