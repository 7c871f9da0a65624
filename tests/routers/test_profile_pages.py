"""Profiles in the app, not only in Django admin: the Profiles page (everyone reads, admins
write, errors at the field), the JSON API (`/api/profiles`) and one audited service behind both."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from routers import services
from routers.compiling import compiled_router_for
from routers.models import Profile

pytestmark = pytest.mark.django_db

GOOD = {
    "name": "Vision",
    "description": "Pictures",
    "needs_images": "on",
    "min_context": "0",
    "max_price": "",
}


def test_everyone_sees_the_profiles_and_which_models_meet_them(client_for, owner, demo_catalog):
    page = client_for(owner).get(reverse("profile_list"))
    assert page.status_code == 200
    text = page.content.decode()
    for name in ("fast", "general", "code", "creative"):
        assert f'data-profile-row="{name}"' in text
    assert "<code>demo/small</code>" in text  # fast: the small model qualifies
    assert reverse("profile_create") not in text  # members do not define profiles
    assert client_for(owner).get(reverse("profile_create")).status_code == 403
    assert client_for(owner).post(reverse("profile_create"), GOOD).status_code == 403
    assert not Profile.objects.exists()


def test_an_admin_defines_a_profile_errors_at_the_field_and_audited(
    client_for, admin_user, demo_catalog
):
    client = client_for(admin_user)
    bad = client.post(reverse("profile_create"), {**GOOD, "name": "has space", "max_price": "-1"})
    assert bad.status_code == 422
    form = bad.context["form"]
    assert "lower-case" in form.errors["name"][0]
    assert not Profile.objects.exists()
    bad = client.post(reverse("profile_create"), {**GOOD, "min_context": "200000000"})
    assert "Minimum context" in bad.context["form"].errors["min_context"][0]

    assert client.post(reverse("profile_create"), GOOD).status_code == 302
    profile = Profile.objects.get()
    assert profile.name == "vision" and profile.needs_images
    entry = AuditEntry.objects.get(action="profile.create")
    assert entry.actor == admin_user and entry.changes["name"][1] == "vision"
    duplicate = client.post(reverse("profile_create"), GOOD)
    assert "defined already" in duplicate.context["form"].errors["name"][0]

    client.post(
        reverse("profile_edit", args=["vision"]),
        {**GOOD, "name": "vision", "size_classes": ["large"], "max_price": "50"},
    )
    profile.refresh_from_db()
    assert profile.size_classes == ["large"] and profile.max_price == Decimal("50")
    assert AuditEntry.objects.get(action="profile.update").changes["size_classes"] == [
        [],
        ["large"],
    ]

    response = client.post(reverse("profile_delete", args=["vision"]))
    assert response.status_code == 302
    assert not Profile.objects.exists()
    assert AuditEntry.objects.filter(action="profile.delete").count() == 1


def test_saving_a_built_in_profile_redefines_it_and_deleting_restores_it(
    client_for, admin_user, owner, demo_catalog
):
    router = services.router_create(
        owner=owner, actor=owner, name="R", slug="r", primary_model="demo/large"
    )
    services.rule_create(
        router=router,
        actor=owner,
        name="All",
        kind="calculated",
        conditions=[{"property": "message_chars", "operator": "gte", "value": 0}],
        target_profile="fast",
    )
    router.refresh_from_db()
    assert compiled_router_for(router).profiles["fast"].chain == ("demo/small",)
    client = client_for(admin_user)
    form = client.get(reverse("profile_edit", args=["fast"]))
    assert form.status_code == 200 and "redefines it" in form.content.decode()
    client.post(
        reverse("profile_edit", args=["fast"]),
        {"name": "fast", "size_classes": ["large"], "min_context": "0", "max_price": ""},
    )
    assert Profile.objects.get().name == "fast"
    assert compiled_router_for(router).profiles["fast"].chain == ("demo/large",)
    listing = client.get(reverse("profile_list")).content.decode()
    assert "(redefined)" in listing and "Used by 1 router." in listing
    client.post(reverse("profile_delete", args=["fast"]))
    assert compiled_router_for(router).profiles["fast"].chain == ("demo/small",)
    # A built-in profile has no definition of its own to delete.
    assert client.post(reverse("profile_delete", args=["fast"])).status_code == 404
