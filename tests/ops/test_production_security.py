"""Production headers on /v1 (its handler skips the middleware stack) and attached images
served through an access check, with DEBUG off."""

from __future__ import annotations

import io

import httpx
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from chat.models import Attachment, Message
from chat.services import thread_create, workspace_create

# Imported here, not under the production settings below: the module builds the app's own
# gateway handler at import, which the live-server tests use.
from routerweb.asgi import GatewayHandler


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    return settings


@pytest.fixture
def no_connection_recycling():
    # As Django's test client does: the handler's request_finished must not close the test
    # thread's database connection (here the event loop's thread holds one).
    from django.core.signals import request_finished
    from django.db import close_old_connections

    request_finished.disconnect(close_old_connections)
    yield
    request_finished.connect(close_old_connections)


async def test_v1_redirects_to_https_and_sends_hsts_and_nosniff(
    db, no_connection_recycling, production
):
    handler = GatewayHandler()  # built under the production settings, as at start-up
    transport = httpx.ASGITransport(app=handler)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        plain = await client.get("/v1/models")
        assert plain.status_code == 301
        assert plain.headers["location"] == "https://testserver/v1/models"

        secure = await client.get("/v1/models", headers={"X-Forwarded-Proto": "https"})
        assert secure.status_code == 401  # no token; the headers come with every answer
        assert secure.headers["strict-transport-security"] == (
            "max-age=31536000; includeSubDomains"
        )
        assert secure.headers["x-content-type-options"] == "nosniff"
        assert secure.headers["referrer-policy"] == "same-origin"


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), "red").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def attachment(owner, teammate, demo_catalog):
    workspace = workspace_create(owner=owner, name="Team", model=demo_catalog["small"])
    workspace.members.add(teammate)
    thread = thread_create(workspace=workspace, owner=owner)
    message = Message.objects.create(thread=thread, role="user", content="look")
    item = Attachment(message=message, mime_type="image/png", size=len(_png()))
    item.file.save("dot.png", ContentFile(_png()), save=True)
    return item


def test_an_attached_image_is_served_to_its_reader_with_debug_off(
    client_for, owner, attachment, production
):
    client = client_for(owner)
    page = client.get(reverse("thread", args=[attachment.message.thread_id]), secure=True)
    url = reverse("attachment", args=[attachment.pk])
    assert f'src="{url}"' in page.content.decode()
    response = client.get(url, secure=True)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "private" in response["Cache-Control"]
    assert b"".join(response.streaming_content) == _png()


def test_nobody_else_gets_an_attachment(client_for, teammate, outsider, manager, attachment):
    url = reverse("attachment", args=[attachment.pk])
    # Threads are personal: a workspace colleague, an outsider, a manager all get a 404.
    for user in (teammate, outsider, manager):
        assert client_for(user).get(url).status_code == 404
