from __future__ import annotations

from django.urls import reverse

from providers.models import CatalogModel, Provider


def test_an_openai_compatible_server_lists_its_models_and_one_can_be_added(
    client_for, admin_user, fake_upstream
):
    fake_upstream.models = ["llama3.1:8b", "qwen2.5:7b"]
    provider = Provider.objects.create(
        name="Ollama",
        slug="ollama",
        kind="openai_compatible",
        base_url=fake_upstream.base_url("openai_compatible"),
    )
    client = client_for(admin_user)
    html = client.post(
        reverse("provider_discover", args=[provider.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "llama3.1:8b" in html and "qwen2.5:7b" in html
    client.post(reverse("provider_add_model", args=[provider.pk]), {"model_id": "llama3.1:8b"})
    assert CatalogModel.objects.filter(provider=provider, model_id="llama3.1:8b").exists()
    html = client.post(
        reverse("provider_discover", args=[provider.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "in the catalog" in html


def test_an_unreachable_server_says_so(client_for, admin_user):
    provider = Provider.objects.create(
        name="Down",
        slug="down",
        kind="openai_compatible",
        base_url="http://127.0.0.1:1/v1",
        connect_timeout=0.5,
    )
    html = (
        client_for(admin_user)
        .post(reverse("provider_discover", args=[provider.pk]))
        .content.decode()
    )
    assert "did not list its models" in html


def test_an_openai_compatible_provider_needs_a_base_url(client_for, admin_user):
    response = client_for(admin_user).post(
        reverse("provider_create"),
        {
            "name": "X",
            "slug": "x",
            "kind": "openai_compatible",
            "base_url": "",
            "connect_timeout": 10,
            "read_timeout": 60,
        },
    )
    assert "needs its base URL" in response.content.decode()
    assert not Provider.objects.filter(slug="x").exists()


def test_catalog_prices_drive_the_cost(demo_catalog):
    large = demo_catalog["large"]
    assert str(large.cost(1_000_000, 1_000_000)) == "18.000000"  # $3 in + $15 out per 1M
