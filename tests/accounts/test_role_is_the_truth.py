"""The role is the one source of truth: Django's is_staff/is_superuser follow it."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts import people
from accounts.models import User
from audit.models import AuditEntry
from routers import services as router_services


@pytest.fixture
def bootstrap(db):
    """The first admin as `ensure_admin` / `createsuperuser` make it."""
    return User.objects.create_superuser(username="root", email="", password="pw-root")


def test_createsuperuser_makes_an_admin(bootstrap):
    assert bootstrap.role == "admin" and bootstrap.is_admin_role


def test_a_demoted_bootstrap_admin_loses_everything_admin(
    client_for, admin_user, bootstrap, owner, demo_catalog
):
    private = router_services.router_create(
        owner=owner, name="Mine", slug="mine", primary_model="demo/small", actor=owner
    )
    response = client_for(admin_user).post(
        reverse("manage_user_role", args=[bootstrap.pk]), {"role": "member"}, follow=True
    )
    assert "now Member" in response.content.decode()
    bootstrap.refresh_from_db()
    assert (bootstrap.role, bootstrap.is_staff, bootstrap.is_superuser) == ("member", False, False)
    assert not bootstrap.is_admin_role

    client = client_for(bootstrap)
    assert client.get(reverse("manage_users")).status_code == 403
    assert client.get(reverse("audit_list")).status_code == 403
    assert client.get(reverse("router_detail", args=[private.pk])).status_code == 404
    admin_page = client.get("/admin/")
    assert admin_page.status_code == 302 and "/admin/login/" in admin_page["Location"]
    # …and cannot promote itself back.
    assert (
        client.post(reverse("manage_user_role", args=[bootstrap.pk]), {"role": "admin"}).status_code
        == 403
    )
    bootstrap.refresh_from_db()
    assert bootstrap.role == "member"


def test_a_flag_left_over_without_the_role_grants_nothing(client_for, owner):
    owner.is_superuser = owner.is_staff = True  # e.g. set straight in the database
    owner.save()
    client = client_for(owner)
    assert not owner.is_admin_role
    assert client.get(reverse("manage_users")).status_code == 403
    assert client.get("/admin/").status_code == 302


def test_promoting_gives_django_admin_and_demoting_takes_it(client_for, admin_user, owner):
    people.user_set_role(actor=admin_user, user=owner, role="admin")
    owner.refresh_from_db()
    assert owner.is_staff and owner.is_superuser
    assert client_for(owner).get("/admin/").status_code == 200
    people.user_set_role(actor=admin_user, user=owner, role="manager")
    owner.refresh_from_db()
    assert not (owner.is_staff or owner.is_superuser)
    assert client_for(owner).get("/admin/").status_code == 302


def test_only_an_admin_may_change_roles(manager, owner):
    with pytest.raises(PermissionDenied):
        people.user_set_role(actor=manager, user=owner, role="admin")
    owner.refresh_from_db()
    assert owner.role == "member"


def test_the_last_admin_cannot_be_demoted_or_deactivated(admin_user, owner):
    with pytest.raises(ValidationError, match="yourself"):
        people.user_set_role(actor=admin_user, user=admin_user, role="member")
    # An admin that is not active any more cannot act, so nobody can remove the last admin.
    with pytest.raises(ValidationError, match="last active admin"):
        people.user_change_check(actor=owner, user=admin_user, role="member", is_active=True)
    with pytest.raises(ValidationError, match="last active admin"):
        people.user_change_check(actor=owner, user=admin_user, role="admin", is_active=False)
    admin_user.refresh_from_db()
    assert admin_user.role == "admin" and admin_user.is_active


def test_django_admin_role_changes_go_through_the_role_service(client_for, admin_user, owner):
    client = client_for(admin_user)
    url = reverse("admin:accounts_user_change", args=[owner.pk])
    form = {
        "username": owner.username,
        "role": "admin",
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    owner.refresh_from_db()
    assert owner.role == "admin" and owner.is_staff and owner.is_superuser
    entry = AuditEntry.objects.get(action="user.role", object_id=str(owner.pk))
    assert entry.actor_name == "ada"

    # The admin cannot demote themself there either: the form says why and nothing changes.
    mine = reverse("admin:accounts_user_change", args=[admin_user.pk])
    response = client.post(mine, {**form, "username": admin_user.username, "role": "member"})
    assert response.status_code == 200
    assert "from yourself" in response.content.decode()
    admin_user.refresh_from_db()
    assert admin_user.role == "admin"
