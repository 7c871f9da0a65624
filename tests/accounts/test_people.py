from __future__ import annotations

import re

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEntry
from chat.services import workspace_create
from providers.models import Provider


def test_only_admins_reach_the_people_pages(client_for, admin_user, manager, owner):
    for user, status in ((admin_user, 200), (manager, 403), (owner, 403)):
        client = client_for(user)
        assert client.get(reverse("manage_users")).status_code == status
        assert client.get(reverse("audit_list")).status_code == status


def test_search_finds_people_by_name_or_email(client_for, admin_user, owner, teammate):
    teammate.email = "tom@example.com"
    teammate.save()
    page = (
        client_for(admin_user).get(reverse("manage_users"), {"q": "example.com"}).content.decode()
    )
    assert "tom" in page and "olivia" not in page


def test_a_new_user_gets_a_one_time_link_that_works_once(client_for, admin_user, client):
    response = client_for(admin_user).post(
        reverse("manage_user_create"), {"username": "nina", "email": "", "role": "member"}
    )
    assert response.status_code == 200
    link = re.search(
        r'value="(http://testserver/account/set-password/[^"]+)"', response.content.decode()
    ).group(1)
    nina = User.objects.get(username="nina")
    assert not nina.has_usable_password()
    assert AuditEntry.objects.filter(action="user.create", object_id=str(nina.pk)).exists()

    client.logout()
    path = link.replace("http://testserver", "")
    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else path
    done = client.post(
        set_url, {"new_password1": "a-Long-passphrase-42", "new_password2": "a-Long-passphrase-42"}
    )
    assert done.status_code == 302
    nina.refresh_from_db()
    assert nina.check_password("a-Long-passphrase-42")
    again = client.get(path, follow=True)
    assert "already been used" in again.content.decode()


def test_a_taken_username_is_refused_and_keeps_what_was_typed(client_for, admin_user, owner):
    response = client_for(admin_user).post(
        reverse("manage_user_create"),
        {"username": "OLIVIA", "email": "o@example.com", "role": "manager"},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "is taken" in html and 'value="o@example.com"' in html


def test_changing_a_role_is_audited(client_for, admin_user, owner):
    client_for(admin_user).post(reverse("manage_user_role", args=[owner.pk]), {"role": "manager"})
    owner.refresh_from_db()
    assert owner.role == "manager"
    entry = AuditEntry.objects.get(action="user.role")
    assert entry.changes == {"role": ["member", "manager"]} and entry.actor_name == "ada"


def test_deactivating_ends_sessions_and_keeps_history(
    client_for, admin_user, owner, client, demo_catalog
):
    from django.test import Client

    theirs = Client()
    theirs.force_login(owner)
    workspace = workspace_create(owner=owner, name="Kept", model=demo_catalog["small"])
    assert Session.objects.count() == 1
    client_for(admin_user).post(reverse("manage_user_deactivate", args=[owner.pk]))
    owner.refresh_from_db()
    assert not owner.is_active
    assert theirs.get(reverse("home")).status_code == 302, "their session no longer works"
    assert workspace.__class__.objects.filter(pk=workspace.pk).exists()
    assert AuditEntry.objects.filter(action="user.deactivate").exists()


def test_an_admin_cannot_lock_themselves_out(client_for, admin_user):
    client = client_for(admin_user)
    client.post(reverse("manage_user_deactivate", args=[admin_user.pk]))
    client.post(reverse("manage_user_role", args=[admin_user.pk]), {"role": "member"})
    admin_user.refresh_from_db()
    assert admin_user.is_active and admin_user.role == "admin"


def test_workspace_membership_is_managed_by_owner_managers_and_admins(
    client_for, owner, teammate, outsider, manager, demo_catalog
):
    workspace = workspace_create(owner=owner, name="Team", model=demo_catalog["small"])
    url = reverse("workspace_members", args=[workspace.pk])
    client_for(owner).post(url, {"user": teammate.pk, "action": "add"})
    assert workspace.members.filter(pk=teammate.pk).exists()
    assert client_for(teammate).post(url, {"user": outsider.pk, "action": "add"}).status_code == 403
    assert client_for(outsider).get(url).status_code == 404
    workspace.members.add(manager)
    client_for(manager).post(url, {"user": teammate.pk, "action": "remove"})
    assert not workspace.members.filter(pk=teammate.pk).exists()
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert "workspace.member_add" in actions and "workspace.member_remove" in actions


@pytest.mark.parametrize("attempts_before_lock", [5])
def test_login_is_throttled_after_repeated_failures(client, owner, settings, attempts_before_lock):
    settings.LOGIN_FAILURE_LIMIT = attempts_before_lock
    for _ in range(attempts_before_lock):
        response = client.post(reverse("login"), {"username": "olivia", "password": "wrong"})
        assert "Too many failed attempts" not in response.content.decode()
    response = client.post(reverse("login"), {"username": "olivia", "password": "pw-olivia"})
    assert response.status_code == 200
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_successful_login_still_works_below_the_limit(client, owner):
    client.post(reverse("login"), {"username": "olivia", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "olivia", "password": "pw-olivia"})
    assert response.status_code == 302


def test_provider_keys_are_encrypted_and_never_rendered_or_logged(client_for, admin_user):
    client = client_for(admin_user)
    secret = "sk-live-very-secret-key-9876"
    client.post(
        reverse("provider_create"),
        {
            "name": "OpenAI",
            "slug": "openai",
            "kind": "openai",
            "base_url": "",
            "connect_timeout": 10,
            "read_timeout": 60,
            "enabled": "on",
            "api_key": secret,
        },
    )
    provider = Provider.objects.get(slug="openai")
    assert provider.api_key == secret
    assert secret not in provider.api_key_encrypted
    for url in (
        reverse("provider_list"),
        reverse("provider_edit", args=[provider.pk]),
        f"/admin/providers/provider/{provider.pk}/change/",
    ):
        html = client.get(url).content.decode()
        assert secret not in html and "9876" in html, url
    entries = AuditEntry.objects.filter(object_type="provider")
    assert entries.exists()
    assert all(secret not in str(e.changes) for e in entries)

    client.post(
        reverse("provider_edit", args=[provider.pk]),
        {
            "name": "OpenAI",
            "slug": "openai",
            "kind": "openai",
            "base_url": "",
            "connect_timeout": 10,
            "read_timeout": 60,
            "enabled": "on",
            "api_key": "",
        },
    )
    provider.refresh_from_db()
    assert provider.api_key == secret, "an empty key field keeps the saved key"


def test_members_cannot_reach_provider_pages(client_for, owner):
    assert client_for(owner).get(reverse("provider_list")).status_code == 403


def test_the_link_is_emailed_when_email_is_configured(client_for, admin_user, settings, mailoutbox):
    settings.ROUTERWEB_EMAIL_HOST = "smtp.example.com"
    response = client_for(admin_user).post(
        reverse("manage_user_create"),
        {"username": "mia", "email": "mia@example.com", "role": "member"},
    )
    assert "also e-mailed" in response.content.decode()
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["mia@example.com"]
    assert "/account/set-password/" in mailoutbox[0].body
