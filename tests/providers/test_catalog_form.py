"""The catalog model form: a model id its provider already has is a form error, not a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from providers.catalog import provider_ensure
from providers.models import CatalogModel

pytestmark = pytest.mark.django_db


def test_a_duplicate_model_id_on_the_page_is_an_inline_error_and_changes_nothing(
    client_for, admin_user
):
    provider, _ = provider_ensure(slug="local", name="Local", kind="openai_compatible")
    CatalogModel.objects.create(provider=provider, model_id="llama3", display_name="Llama 3")
    other, _ = provider_ensure(slug="other", name="Other", kind="openai_compatible")
    form = {"model_id": "llama3", "display_name": "Again", "context_window": 8192, "kind": "chat"}
    form |= {"input_price_per_m": "0", "output_price_per_m": "0", "enabled": "on"}

    response = client_for(admin_user).post(
        reverse("catalog_model_create", args=[provider.pk]), form
    )

    assert response.status_code == 200
    assert "already has a model with this id" in response.content.decode()
    assert CatalogModel.objects.filter(provider=provider).count() == 1
    # The same id under another provider is a different model.
    response = client_for(admin_user).post(reverse("catalog_model_create", args=[other.pk]), form)
    assert response.status_code == 302
    assert CatalogModel.objects.filter(model_id="llama3").count() == 2
