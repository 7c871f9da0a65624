from __future__ import annotations

from django.contrib import admin

from audit.admin_mixins import AuditedModelAdmin
from experiments.models import Experiment


@admin.register(Experiment)
class ExperimentAdmin(AuditedModelAdmin):
    list_display = ("router", "control", "variant", "percent", "started_at", "ended_at", "outcome")
    list_filter = ("outcome",)
