from __future__ import annotations

from django.contrib import admin

from audit.admin_mixins import AuditedModelAdmin
from providers.forms import ProviderForm
from providers.models import CatalogModel, Provider


class CatalogModelInline(admin.TabularInline):
    model = CatalogModel
    extra = 0


@admin.register(Provider)
class ProviderAdmin(AuditedModelAdmin):
    # The same form as the in-app page: the key is write-only and shown masked.
    form = ProviderForm
    list_display = ("name", "slug", "kind", "base_url", "masked_key", "enabled")
    readonly_fields = ("masked_key",)
    inlines = [CatalogModelInline]
    fields = (
        "name",
        "slug",
        "kind",
        "base_url",
        "api_key",
        "clear_api_key",
        "masked_key",
        "connect_timeout",
        "read_timeout",
        "enabled",
    )

    @admin.display(description="Saved API key")
    def masked_key(self, obj: Provider) -> str:
        return obj.api_key_masked or "—"


@admin.register(CatalogModel)
class CatalogModelAdmin(AuditedModelAdmin):
    list_display = (
        "display_name",
        "provider",
        "model_id",
        "context_window",
        "input_price_per_m",
        "output_price_per_m",
        "supports_images",
        "enabled",
    )
    list_filter = ("provider", "supports_images", "enabled")
