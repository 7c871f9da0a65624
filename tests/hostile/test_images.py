"""Images: a small file declaring an enormous size (a decompression bomb) is refused from its
header, and a message has caps on how many images it carries and their bytes together
(issue 11, item 13) — in the chat and on /v1."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from chat.models import Attachment, Message
from decisions.models import RoutingDecision


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width × height: signature, IHDR, a tiny IDAT, IEND (~70 bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


def real_png(size: int = 8) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), "red").save(buffer, "PNG")
    return buffer.getvalue()


def upload(data: bytes, name: str = "a.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/png")


@pytest.fixture
def client(client_for, owner):
    client = client_for(owner)
    client.raise_request_exception = False
    return client


def post_images(client, thread, *files):
    return client.post(
        f"/threads/{thread.pk}/messages/",
        {"text": "look", "images": list(files)},
        HTTP_HX_REQUEST="true",
    )


@pytest.mark.parametrize("size", [(20_000, 20_000), (10_000, 6_000)])
def test_a_decompression_bomb_is_refused_with_a_clear_error(client, thread, size):
    response = post_images(client, thread, upload(png_header(*size)))
    assert response.status_code == 422
    assert "million pixels" in response.content.decode()
    assert not Message.objects.filter(thread=thread).exists()
    assert not Attachment.objects.exists()


def test_too_many_images_in_one_message_are_refused(client, thread, settings):
    settings.MAX_IMAGES_PER_MESSAGE = 3
    response = post_images(client, thread, *[upload(real_png(), f"{i}.png") for i in range(4)])
    assert response.status_code == 422
    assert "at most 3 images" in response.content.decode()
    assert not Message.objects.filter(thread=thread).exists()


def test_images_over_the_total_size_are_refused(client, thread, settings):
    png = real_png(64)
    settings.MAX_IMAGES_TOTAL_BYTES = len(png) * 2
    response = post_images(client, thread, *[upload(png, f"{i}.png") for i in range(3)])
    assert response.status_code == 422
    assert "may total at most" in response.content.decode()
    assert not Message.objects.filter(thread=thread).exists()


def test_images_within_the_caps_are_stored(client, thread, settings):
    settings.MAX_IMAGES_PER_MESSAGE = 3
    response = post_images(client, thread, *[upload(real_png(), f"{i}.png") for i in range(3)])
    assert response.status_code == 200
    assert Attachment.objects.count() == 3


# --- /v1 --------------------------------------------------------------------------------


@pytest.fixture
def v1(live_url, owner, token_for, fake_router):
    token = token_for(owner)

    def send(*images: bytes) -> httpx.Response:
        content = [{"type": "text", "text": "look"}] + [
            {
                "type": "image_url",
                "image_url": {"url": "data:image/png;base64," + base64.b64encode(i).decode()},
            }
            for i in images
        ]
        body = {"model": "router:fake-router", "messages": [{"role": "user", "content": content}]}
        return httpx.post(
            f"{live_url}/v1/chat/completions",
            content=json.dumps(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=10,
        )

    return send


@pytest.mark.parametrize("size", [(20_000, 20_000), (10_000, 6_000)])
def test_v1_refuses_a_decompression_bomb_before_any_model_call(v1, fake_upstream, size):
    response = v1(png_header(*size))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "image_too_large" and "million pixels" in error["message"]
    assert error["param"] == "messages[0].content[1].image_url"
    assert fake_upstream.requests == []
    assert not RoutingDecision.objects.exists()


def test_v1_caps_the_images_of_a_message(v1, fake_upstream, settings):
    settings.MAX_IMAGES_PER_MESSAGE = 2
    response = v1(real_png(), real_png(), real_png())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_images"
    assert fake_upstream.requests == []


def test_v1_accepts_an_ordinary_image(v1, fake_upstream):
    assert v1(real_png()).status_code == 200
