"""Creating providers with their default catalog entries."""

from __future__ import annotations

from providers.catalog_defaults import DEFAULTS
from providers.models import CatalogModel, Provider


def provider_ensure(
    *, slug: str, name: str, kind: str, api_key: str = "", base_url: str = ""
) -> tuple[Provider, bool]:
    """Create the provider (with its default models) unless it exists; never overwrite edits."""
    provider, created = Provider.objects.get_or_create(
        slug=slug, defaults={"name": name, "kind": kind, "base_url": base_url}
    )
    if created:
        if api_key:
            provider.api_key = api_key
            provider.save(update_fields=["api_key_encrypted"])
        for entry in DEFAULTS.get(kind, []):
            CatalogModel.objects.get_or_create(
                provider=provider,
                model_id=entry.model_id,
                defaults={
                    "display_name": entry.display_name,
                    "context_window": entry.context_window,
                    "input_price_per_m": entry.input_price,
                    "output_price_per_m": entry.output_price,
                    "supports_images": entry.images,
                    "supports_tools": entry.tools,
                    "kind": entry.kind,
                    "dimensions": entry.dimensions,
                    "family": entry.family,
                    "size_class": entry.size_class,
                },
            )
    return provider, created
