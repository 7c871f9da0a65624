"""Reads of the catalog: the enabled models of enabled providers."""

from __future__ import annotations

from django.db.models import QuerySet

from providers.models import CatalogModel


def catalog_list_enabled() -> QuerySet[CatalogModel]:
    """Enabled chat models (embedding models only ever embed: see `catalog_list_embedding`)."""
    return CatalogModel.objects.filter(
        enabled=True, provider__enabled=True, kind="chat"
    ).select_related("provider")


def catalog_list_embedding() -> QuerySet[CatalogModel]:
    return CatalogModel.objects.filter(
        enabled=True, provider__enabled=True, kind="embedding"
    ).select_related("provider")


def catalog_get_by_ref(ref: str) -> CatalogModel | None:
    slug, sep, model_id = ref.partition("/")
    if not sep:
        return None
    return catalog_list_enabled().filter(provider__slug=slug, model_id=model_id).first()
