"""Choosing a slug never reveals that someone else's private router exists."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from routers import selectors, services


def test_a_slug_someone_else_uses_privately_is_free_for_me(make_router, outsider, owner):
    theirs = make_router(slug="acme-merger", user=outsider)
    mine = make_router(slug="acme-merger")
    assert mine.slug == "acme-merger" and mine.owner == owner
    # Each name resolves to the router its user may use: their own.
    assert selectors.router_get_by_slug_for_user(user=owner, slug="acme-merger") == mine
    assert selectors.router_get_by_slug_for_user(user=outsider, slug="acme-merger") == theirs


def test_the_new_router_page_says_nothing_about_a_hidden_router(
    client_for, make_router, outsider, owner
):
    make_router(slug="acme-merger", user=outsider)
    response = client_for(owner).post(
        reverse("router_create"),
        {
            "name": "Mine",
            "slug": "acme-merger",
            "visibility": "private",
            "primary_model": "demo/small",
            "cooldown_minutes": "30",
            "time_zone": "UTC",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]


def test_my_own_or_a_shared_slug_is_refused_with_a_reason_i_can_see(make_router, outsider):
    make_router(slug="mine")
    make_router(slug="everyone", visibility="shared", user=outsider)
    with pytest.raises(ValidationError, match="already used by another of your routers"):
        make_router(slug="mine")
    with pytest.raises(ValidationError, match="already used by a shared router"):
        make_router(slug="everyone")


def test_sharing_is_not_blocked_by_a_hidden_private_router(make_router, outsider):
    make_router(slug="tools", user=outsider)
    mine = make_router(slug="tools")
    services.router_update(router=mine, visibility="shared", actor=mine.owner)
    mine.refresh_from_db()
    assert mine.visibility == "shared"


def test_an_import_keeps_a_slug_only_a_hidden_router_uses(make_router, outsider, owner):
    source = make_router(slug="secret-project", user=outsider)
    data = services.router_export(router=source)
    imported = services.router_import(owner=owner, data=data)
    assert imported.slug == "secret-project"
    again = services.router_import(owner=owner, data=data)
    assert again.slug == "secret-project-2"  # my own now holds it
