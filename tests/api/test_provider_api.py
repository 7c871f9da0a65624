"""Admins configure providers and the catalog (chat and embedding models) through the JSON API,
with the pages' validation, permissions and audit; API keys are write-only."""

from __future__ import annotations

import json

import pytest

from audit.models import AuditEntry
from providers.models import CatalogModel, Provider
from tests.api.test_json_api import api_as  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(api_as, admin_user):  # noqa: F811
    return api_as(admin_user)


def test_an_admin_creates_a_provider_and_the_key_is_never_returned(admin_api):
    response = admin_api.post(
        "/providers",
        {
            "name": "Local Ollama",
            "slug": "ollama",
            "kind": "openai_compatible",
            "base_url": "http://127.0.0.1:11434/v1",
            "api_key": "sk-secret-123456",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["has_api_key"] is True
    assert "sk-secret-123456" not in json.dumps(body)
    assert Provider.objects.get(slug="ollama").api_key == "sk-secret-123456"
    listed = admin_api.get("/providers").content.decode()
    assert "sk-secret-123456" not in listed and "ollama" in listed
    entry = AuditEntry.objects.filter(action="provider.create").latest("pk")
    assert "sk-secret-123456" not in json.dumps(entry.changes)
    assert "api_key" in entry.changes  # recorded as a digest that it changed


def test_provider_validation_is_the_pages_own(admin_api):
    response = admin_api.post(
        "/providers", {"name": "No URL", "slug": "nourl", "kind": "openai_compatible"}
    )
    assert response.status_code == 422
    assert "base_url" in response.json()["detail"]
    assert not Provider.objects.filter(slug="nourl").exists()


def test_a_patch_changes_only_what_is_sent_and_can_clear_the_key(admin_api):
    created = admin_api.post(
        "/providers", {"name": "OpenAI", "slug": "oa", "kind": "openai", "api_key": "sk-1"}
    ).json()
    patched = admin_api.patch(f"/providers/{created['id']}", {"read_timeout": 30}).json()
    assert patched["read_timeout"] == 30 and patched["has_api_key"] is True
    cleared = admin_api.patch(f"/providers/{created['id']}", {"api_key": ""}).json()
    assert cleared["has_api_key"] is False
    assert AuditEntry.objects.filter(action="provider.update").count() == 2


def test_an_admin_adds_an_embedding_model_to_the_catalog(admin_api):
    provider = admin_api.post(
        "/providers", {"name": "OpenAI", "slug": "oa", "kind": "openai", "api_key": "sk-1"}
    ).json()
    response = admin_api.post(
        f"/providers/{provider['id']}/models",
        {
            "model_id": "text-embedding-3-small",
            "kind": "embedding",
            "dimensions": 1536,
            "input_price_per_m": "0.02",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["ref"] == "oa/text-embedding-3-small"
    assert (body["kind"], body["dimensions"]) == ("embedding", 1536)
    model = CatalogModel.objects.get(model_id="text-embedding-3-small")
    assert model.kind == "embedding" and model.display_name == "text-embedding-3-small"
    updated = admin_api.patch(
        f"/providers/{provider['id']}/models/{body['id']}", {"enabled": False}
    ).json()
    assert updated["enabled"] is False and updated["dimensions"] == 1536
    assert AuditEntry.objects.filter(action__startswith="catalog_model.").count() == 2


def test_a_model_id_the_provider_already_has_is_a_clear_error_not_a_500(admin_api):
    provider = admin_api.post("/providers", {"name": "D", "slug": "d", "kind": "demo"}).json()
    models = f"/providers/{provider['id']}/models"
    first = admin_api.post(models, {"model_id": "m1"}).json()

    again = admin_api.post(models, {"model_id": "m1", "display_name": "Again"})

    assert again.status_code == 422
    assert "already has a model with this id" in json.dumps(again.json()["detail"])
    assert list(CatalogModel.objects.values_list("display_name", flat=True)) == ["m1"]
    # Editing the model itself is not a clash with its own id.
    assert admin_api.patch(f"{models}/{first['id']}", {"enabled": False}).status_code == 200


def test_only_admins_may_manage_providers(api_as, manager, owner, admin_user):  # noqa: F811
    provider = Provider.objects.create(name="X", slug="x", kind="demo")
    for user in (manager, owner):
        api = api_as(user)
        assert api.get("/providers").status_code == 403
        assert api.post("/providers", {"name": "Y", "slug": "y", "kind": "demo"}).status_code == 403
        assert api.patch(f"/providers/{provider.pk}", {"name": "Z"}).status_code == 403
        assert api.post(f"/providers/{provider.pk}/models", {"model_id": "m"}).status_code == 403
    assert Provider.objects.get(pk=provider.pk).name == "X"
