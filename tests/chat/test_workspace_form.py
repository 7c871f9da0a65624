"""The new-workspace form: routes by default when a router exists, never drops a pick silently,
and tells routers with the same name apart."""

from __future__ import annotations

import re

from django.urls import reverse

from chat.models import Workspace
from routers.services import router_create


def test_a_new_workspace_routes_by_default_when_a_router_exists(client_for, owner, demo_catalog):
    client = client_for(owner)

    def checked() -> list[str]:
        html = client.get(reverse("workspace_create")).content.decode()
        return re.findall(r'name="mode" value="(\w+)"[^>]*checked', html)

    assert checked() == ["model"]  # no router yet: one model is the only choice that works
    router_create(owner=owner, name="Mine", slug="mine", primary_model="demo/small", actor=owner)
    assert checked() == ["router"]


def test_routers_with_the_same_name_are_told_apart(client_for, owner, teammate, demo_catalog):
    router_create(
        owner=owner, name="Support", slug="support", primary_model="demo/small", actor=owner
    )
    router_create(
        owner=teammate,
        name="Support",
        slug="support-2",
        primary_model="demo/small",
        visibility="shared",
        actor=teammate,
    )
    html = client_for(owner).get(reverse("workspace_create")).content.decode()
    assert "Support — router:support, olivia" in html
    assert "Support — router:support-2, tom" in html


def test_picking_both_a_model_and_a_router_is_refused_not_silently_dropped(
    client_for, owner, demo_catalog
):
    router = router_create(
        owner=owner, name="Mine", slug="mine", primary_model="demo/small", actor=owner
    )
    response = client_for(owner).post(
        reverse("workspace_create"),
        {
            "name": "Both",
            "mode": "router",
            "router": router.pk,
            "model": demo_catalog["large"].pk,
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "would not be used" in html and "Demo Large" in html
    assert not Workspace.objects.filter(name="Both").exists()


def test_the_chosen_list_alone_creates_the_workspace(client_for, owner, demo_catalog):
    router = router_create(
        owner=owner, name="Mine", slug="mine", primary_model="demo/small", actor=owner
    )
    client = client_for(owner)
    response = client.post(
        reverse("workspace_create"), {"name": "Routed", "mode": "router", "router": router.pk}
    )
    assert response.status_code == 302
    workspace = Workspace.objects.get(name="Routed")
    assert (workspace.mode, workspace.router_id, workspace.model_id) == ("router", router.pk, None)
    response = client.post(
        reverse("workspace_create"),
        {"name": "Single", "mode": "model", "model": demo_catalog["large"].pk},
    )
    workspace = Workspace.objects.get(name="Single")
    assert (workspace.mode, workspace.model_id, workspace.router_id) == (
        "model",
        demo_catalog["large"].pk,
        None,
    )
