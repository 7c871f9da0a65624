"""Every write is audited in a service with the acting user, who must be given: pages, the
JSON API, Django admin and the CLI alike."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.tokens import api_token_create
from audit.models import AuditEntry
from audit.services import audit_record
from chat.models import Workspace
from providers.catalog import provider_ensure
from providers.models import CatalogModel
from routers import services


def _api(user) -> Client:
    _, token = api_token_create(user=user, name="audit")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def _actors(action: str) -> list[str]:
    return list(
        AuditEntry.objects.filter(action=action).order_by("id").values_list("actor_name", flat=True)
    )


def test_json_api_writes_name_the_token_user_even_on_someone_elses_router(
    admin_user, manager, demo_catalog
):
    router = services.router_create(
        owner=admin_user,
        actor=admin_user,
        name="Ada's shared",
        slug="adas",
        visibility="shared",
        primary_model="demo/small",
    )
    api = _api(manager)

    def call(method: str, path: str, body=None):
        kwargs = {"data": json.dumps(body), "content_type": "application/json"} if body else {}
        response = getattr(api, method)(f"/api/routers/{router.pk}{path}", **kwargs)
        assert response.status_code < 300, response.content.decode()
        return response

    call("patch", "", {"description": "edited by the manager"})
    rule_id = call(
        "post",
        "/rules",
        {
            "name": "Code",
            "kind": "calculated",
            "target_model": "demo/coder",
            "conditions": [{"property": "keywords", "operator": "contains_any", "value": ["py"]}],
        },
    ).json()["id"]
    call("post", f"/rules/{rule_id}/disable")
    call("put", "/rules/order", {"rule_ids": [rule_id]})
    call("delete", f"/rules/{rule_id}")
    for action in ("router.update", "rule.create", "rule.disable", "router.reorder", "rule.delete"):
        assert _actors(action) == ["maria"], action
    assert not AuditEntry.objects.filter(actor__isnull=True).exists()


def test_a_write_without_an_acting_user_is_refused(owner, demo_catalog):
    router = services.router_create(
        owner=owner, actor=owner, name="Mine", slug="mine", primary_model="demo/small"
    )
    with pytest.raises(TypeError):
        services.router_update(router=router, name="No one")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="acting user"):
        audit_record(actor=None, action="router.update", obj=router)  # type: ignore[arg-type]
    router.refresh_from_db()
    assert router.name == "Mine"


def test_editing_a_workspace_is_audited(client_for, owner, demo_catalog):
    workspace = Workspace.objects.create(
        name="Team", owner=owner, mode="model", model=demo_catalog["small"]
    )
    response = client_for(owner).post(
        reverse("workspace_edit", args=[workspace.pk]),
        {
            "name": "Team chat",
            "system_prompt": "",
            "mode": "model",
            "model": demo_catalog["large"].pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = AuditEntry.objects.get(action="workspace.update", object_id=str(workspace.pk))
    assert entry.actor_name == "olivia"
    assert entry.changes["name"] == ["Team", "Team chat"]


def test_adding_a_listed_model_to_the_catalog_is_audited(client_for, admin_user):
    provider, _ = provider_ensure(slug="local", name="Local", kind="openai_compatible")
    response = client_for(admin_user).post(
        reverse("provider_add_model", args=[provider.pk]), {"model_id": "llama3:8b"}
    )
    assert response.status_code == 302
    model = CatalogModel.objects.get(provider=provider, model_id="llama3:8b")
    entry = AuditEntry.objects.get(action="catalog_model.create", object_id=str(model.pk))
    assert entry.actor_name == "ada"


def test_django_admin_changes_are_audited_with_the_admin(
    client_for, admin_user, owner, demo_catalog
):
    router = services.router_create(
        owner=owner, actor=owner, name="Olivia's", slug="olivias", primary_model="demo/small"
    )
    client = client_for(admin_user)
    page = client.get(reverse("admin:routers_router_change", args=[router.pk]))
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {
        name: (value.pk if hasattr(value, "pk") else value)
        for name, value in form.initial.items()
        if value is not None and name in form.fields
    }
    data.update(
        {
            "name": "Renamed in admin",
            "fallbacks": json.dumps(router.fallbacks),
            "tiers": json.dumps(router.tiers),
            "categories": json.dumps(router.categories),
            "rules-TOTAL_FORMS": "0",
            "rules-INITIAL_FORMS": "0",
            "rules-MIN_NUM_FORMS": "0",
            "rules-MAX_NUM_FORMS": "1000",
        }
    )
    data.pop("sticky", None)
    response = client.post(reverse("admin:routers_router_change", args=[router.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    entry = AuditEntry.objects.filter(action="router.update", object_id=str(router.pk)).last()
    assert entry is not None and entry.actor_name == "ada"
    assert entry.changes["name"] == ["Olivia's", "Renamed in admin"]


def test_the_demo_seed_command_is_audited_as_its_owner(db):
    call_command("seed_demo", "--owner", "admin", stdout=io.StringIO())
    entry = AuditEntry.objects.get(action="router.create", object_repr="Demo router")
    assert entry.actor_name == "admin"


def test_views_and_api_modules_never_write_the_audit_log_themselves():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for pattern in ("*/views.py", "*/*_views.py", "*/api.py", "*/v1.py")
        for path in root.glob(pattern)
        if "audit_record" in path.read_text()
    ]
    assert offenders == []  # writes and their audit entries belong in services
