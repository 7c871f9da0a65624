"""403, 404 and 500 are styled pages with the nav, also with DEBUG on (the demo runs so)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse

from routerweb.errors import server_error


@pytest.mark.parametrize("debug", [True, False])
def test_an_unknown_address_shows_the_styled_404_with_the_nav(client_for, owner, settings, debug):
    settings.DEBUG = debug
    response = client_for(owner).get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "There is nothing here" in html and "/no/such/page/" in html
    assert 'class="topbar"' in html  # the nav, so the user can go on
    assert "URLconf" not in html  # never Django's technical list of every URL


@pytest.mark.parametrize("debug", [True, False])
def test_an_object_you_may_not_see_is_a_styled_404(client_for, owner, settings, debug):
    settings.DEBUG = debug
    response = client_for(owner).get(reverse("thread", args=[999_999]))
    assert response.status_code == 404
    html = response.content.decode()
    assert "There is nothing here" in html and 'class="topbar"' in html
    assert "Raised by" not in html


def test_a_403_is_styled_says_why_and_has_the_nav(client_for, owner):
    response = client_for(owner).get(reverse("provider_list"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "Only admins manage providers" in html
    assert 'class="topbar"' in html and "Back to chat" in html


def test_the_500_page_has_the_nav_when_it_can(owner):
    request = RequestFactory().get("/")
    request.user = owner
    response = server_error(request)
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html and 'class="topbar"' in html


def test_the_500_page_still_renders_when_the_nav_cannot(db):
    class Broken:
        @property
        def is_authenticated(self):
            raise RuntimeError("database down")

    request = RequestFactory().get("/")
    request.user = Broken()
    response = server_error(request)
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_api_404s_stay_json(client_for, owner, settings):
    settings.DEBUG = True
    response = client_for(owner).get("/api/routers/999999")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.django_db(transaction=True)
async def test_the_styled_404_also_works_under_asgi(owner, settings):
    from asgiref.sync import sync_to_async
    from django.test import AsyncClient

    settings.DEBUG = True
    client = AsyncClient()
    await sync_to_async(client.force_login)(owner)
    response = await client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "There is nothing here" in html and 'class="topbar"' in html
