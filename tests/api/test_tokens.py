"""API tokens: services, the tokens page, the management command, and the docs page."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts import tokens
from accounts.models import ApiToken


@pytest.fixture(autouse=True)
def _fresh_auth_cache():
    tokens.clear_auth_cache()
    yield
    tokens.clear_auth_cache()


def test_only_the_hash_is_stored_and_the_prefix_is_shown(owner):
    token, plaintext = tokens.api_token_create(user=owner, name="laptop")
    assert plaintext.startswith("rw_") and len(plaintext) > 40
    assert token.prefix == plaintext[:8]
    assert token.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert plaintext not in {str(v) for v in stored.values()}


def test_a_token_authenticates_its_user_until_revoked(owner):
    token, plaintext = tokens.api_token_create(user=owner, name="ci")
    assert tokens.api_token_authenticate(plaintext) == owner
    tokens.api_token_revoke(token=token)
    assert tokens.api_token_authenticate(plaintext) is None
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


@pytest.mark.parametrize("guess", [None, "", "rw_", "rw_x", "not-a-token", "rw_" + "a" * 500])
def test_garbage_is_refused(owner, guess):
    tokens.api_token_create(user=owner, name="ci")
    assert tokens.api_token_authenticate(guess) is None


def test_an_inactive_users_token_is_refused(owner):
    _, plaintext = tokens.api_token_create(user=owner, name="ci")
    owner.is_active = False
    owner.save()
    assert tokens.api_token_authenticate(plaintext) is None


def test_a_name_is_required(owner):
    with pytest.raises(ValidationError):
        tokens.api_token_create(user=owner, name="  ")


def test_last_used_is_written_at_most_once_a_minute(owner, django_assert_num_queries):
    token, plaintext = tokens.api_token_create(user=owner, name="ci")
    assert token.last_used_at is None
    tokens.api_token_authenticate(plaintext)
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    with django_assert_num_queries(0):  # cached, and used less than a minute ago
        tokens.api_token_authenticate(plaintext)
    tokens.clear_auth_cache()
    tokens.api_token_authenticate(plaintext)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first

    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    tokens.clear_auth_cache()
    tokens.api_token_authenticate(plaintext)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first


def test_a_busy_database_while_recording_last_use_does_not_refuse_the_token(owner, monkeypatch):
    from django.db import OperationalError
    from django.db.models import QuerySet

    token, plaintext = tokens.api_token_create(user=owner, name="ci")

    def locked(self, **values):
        raise OperationalError("database table is locked")

    monkeypatch.setattr(QuerySet, "update", locked)
    assert tokens.api_token_authenticate(plaintext) == owner
    monkeypatch.undo()
    assert ApiToken.objects.get(pk=token.pk).last_used_at is None
    tokens.clear_auth_cache()
    tokens.api_token_authenticate(plaintext)  # the next call records it
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None


def test_a_token_revoked_elsewhere_stops_working_once_the_auth_cache_expires(owner):
    from routerweb import clock as clocks
    from tests.fakeclock import FakeClock

    clock = FakeClock()
    clocks.install(clock)
    try:
        token, plaintext = tokens.api_token_create(user=owner, name="ci")
        assert tokens.api_token_authenticate(plaintext) == owner
        # Revoked by another process: this one's cache does not know yet.
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
        clock.advance(4)
        assert tokens.api_token_authenticate(plaintext) == owner
        clock.advance(2)
        assert tokens.api_token_authenticate(plaintext) is None
    finally:
        clocks.install(None)


# --- the tokens page --------------------------------------------------------------------------


def test_the_page_needs_a_login(client):
    response = client.get(reverse("api_tokens"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_creating_shows_the_plaintext_once(client_for, owner):
    client = client_for(owner)
    response = client.post(reverse("api_tokens"), {"name": "notebook"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    html = response.content.decode()
    plaintext = re.search(r'class="token-plaintext">(rw_[^<]+)<', html).group(1)
    assert tokens.api_token_authenticate(plaintext) == owner

    listing = client.get(reverse("api_tokens")).content.decode()
    assert "notebook" in listing and plaintext[:8] in listing
    assert plaintext not in listing


def test_the_page_lists_only_my_tokens(client_for, owner, teammate):
    tokens.api_token_create(user=teammate, name="toms-secret-token")
    tokens.api_token_create(user=owner, name="olivias-token")
    html = client_for(owner).get(reverse("api_tokens")).content.decode()
    assert "olivias-token" in html and "toms-secret-token" not in html


def test_a_blank_name_is_a_form_error(client_for, owner):
    response = client_for(owner).post(reverse("api_tokens"), {"name": ""})
    assert response.status_code == 422
    assert not ApiToken.objects.exists()


def test_revoking_from_the_page(client_for, owner):
    token, plaintext = tokens.api_token_create(user=owner, name="old")
    response = client_for(owner).post(reverse("api_token_revoke", args=[token.pk]))
    assert response.status_code == 302
    assert tokens.api_token_authenticate(plaintext) is None
    assert "revoked" in client_for(owner).get(reverse("api_tokens")).content.decode()


def test_nobody_revokes_someone_elses_token(client_for, owner, teammate):
    token, plaintext = tokens.api_token_create(user=owner, name="mine")
    response = client_for(teammate).post(reverse("api_token_revoke", args=[token.pk]))
    assert response.status_code == 404
    assert tokens.api_token_authenticate(plaintext) == owner


def test_revoking_needs_post(client_for, owner):
    token, _ = tokens.api_token_create(user=owner, name="mine")
    assert client_for(owner).get(reverse("api_token_revoke", args=[token.pk])).status_code == 405


# --- the command ------------------------------------------------------------------------------


def test_the_command_prints_a_working_token(owner):
    out = StringIO()
    call_command("create_api_token", owner.username, "--name", "deploy", stdout=out)
    plaintext = out.getvalue().strip()
    assert tokens.api_token_authenticate(plaintext) == owner
    assert ApiToken.objects.get(user=owner).name == "deploy"


def test_the_command_refuses_unknown_users(db):
    with pytest.raises(CommandError, match="No user"):
        call_command("create_api_token", "ghost", stdout=StringIO())


# --- API docs ---------------------------------------------------------------------------------


def test_the_docs_page_loads_swagger_from_our_own_static_files(client, settings):
    from django.contrib.staticfiles import finders

    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    scripts = re.findall(r'<script src="([^"]+)"', html)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert scripts and styles
    for url in scripts + styles:
        assert url.startswith(settings.STATIC_URL) or url.startswith("/" + settings.STATIC_URL)
        assert finders.find(url.split(settings.STATIC_URL, 1)[1]), url
    assert "<script>" not in html  # no inline script: the CSP forbids it
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "/api/openapi.json" in html


def test_the_openapi_document_lists_the_endpoints(client):
    schema = client.get("/api/openapi.json").json()
    paths = set(schema["paths"])
    assert {
        "/api/routers",
        "/api/routers/{router_id}/dry-run",
        "/api/routers/{router_id}/rules/order",
        "/api/workspaces",
        "/api/decisions",
    } <= paths
    assert {"BearerTokenAuth", "SessionWithCsrfAuth"} <= set(
        schema["components"]["securitySchemes"]
    )
