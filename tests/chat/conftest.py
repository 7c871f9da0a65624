from __future__ import annotations

import pytest

from chat.services import thread_create, workspace_create
from providers.catalog import provider_ensure
from providers.models import CatalogModel, Provider


@pytest.fixture
def workspace(owner, demo_catalog):
    return workspace_create(
        owner=owner, name="Team chat", model=demo_catalog["small"], system_prompt="Be brief."
    )


@pytest.fixture
def thread(workspace, owner):
    return thread_create(workspace=workspace, owner=owner)


@pytest.fixture
def fake_provider(db, fake_upstream):
    """An OpenAI provider pointed at the fake upstream, with two models."""
    provider = Provider.objects.create(
        name="Fake OpenAI",
        slug="fake",
        kind="openai",
        base_url=fake_upstream.base_url("openai"),
        # Real-time SDK limits far beyond any virtual delay: a test on the fake clock must be
        # decided by the failure policy's deadlines, never by a loaded machine's real seconds.
        connect_timeout=30.0,
        read_timeout=60.0,
    )
    provider.api_key = "sk-test-secret-123456"
    provider.save()
    models = {
        name: CatalogModel.objects.create(
            provider=provider,
            model_id=name,
            display_name=name.title(),
            context_window=8000,
            input_price_per_m="1.00",
            output_price_per_m="2.00",
            supports_images=(name == "vision"),
        )
        for name in ("cheap", "backup", "vision")
    }
    return provider, models


@pytest.fixture
def demo_provider(db):
    return provider_ensure(slug="demo", name="Demo", kind="demo")[0]
