from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from chat.models import Message, MessageStatus, Thread
from chat.services import workspace_create
from tests.chat.streaming import sse_events


def png_bytes() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def post_message(client, thread, text, **extra):
    return client.post(
        reverse("message_create", args=[thread.pk]), {"text": text, **extra}, HTTP_HX_REQUEST="true"
    )


def stream(client, message):
    return sse_events(client.get(reverse("message_stream", args=[message.pk])))


def test_anonymous_visitors_are_sent_to_the_login_page(client, thread):
    for url in (
        reverse("home"),
        reverse("thread", args=[thread.pk]),
        reverse("workspace", args=[thread.workspace_id]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_the_answer_streams_token_by_token_and_is_stored_with_cost(client_for, owner, thread):
    client = client_for(owner)
    response = post_message(client, thread, "What is a model router?")
    assert response.status_code == 200
    user_message, assistant = Message.objects.filter(thread=thread).order_by("id")
    assert user_message.content == "What is a model router?"
    assert assistant.status == MessageStatus.PENDING
    assert f'sse-connect="/messages/{assistant.pk}/stream/"' in response.content.decode()

    events = stream(client, assistant)
    chunks = [data for name, data in events if name == "chunk"]
    assert len(chunks) > 3, "the demo answer arrives in several chunks"
    assert events[-1][0] == "done"
    assistant.refresh_from_db()
    assert assistant.status == MessageStatus.COMPLETE
    assert "simulated" in assistant.content.lower()
    assert assistant.model_ref == "demo/small"
    assert assistant.output_tokens > 0 and assistant.usage_estimated
    assert (
        assistant.cost
        == assistant.model.cost(assistant.input_tokens, assistant.output_tokens)
        > Decimal("0")
    )
    assert "demo/small" not in events[-1][1] or "Demo Small" in events[-1][1]


def test_a_second_stream_of_the_same_message_does_not_call_the_model_again(
    client_for, owner, thread
):
    client = client_for(owner)
    post_message(client, thread, "hi")
    assistant = Message.objects.get(thread=thread, role="assistant")
    stream(client, assistant)
    first = Message.objects.get(pk=assistant.pk).content
    events = stream(client, assistant)
    assert [name for name, _ in events] == ["done"]
    assert Message.objects.get(pk=assistant.pk).content == first


def test_a_failing_model_keeps_the_users_text_and_shows_the_error(
    client_for, owner, fake_provider, fake_upstream
):
    _, models = fake_provider
    workspace = workspace_create(owner=owner, name="Fake", model=models["cheap"])
    thread = Thread.objects.create(workspace=workspace, owner=owner)
    fake_upstream.script(status=500)
    client = client_for(owner)
    post_message(client, thread, "Please keep this text")
    assistant = Message.objects.get(thread=thread, role="assistant")
    events = stream(client, assistant)
    assistant.refresh_from_db()
    assert assistant.status == MessageStatus.ERROR
    assert "unavailable" in assistant.error
    assert "unavailable" in events[-1][1]
    assert Message.objects.get(thread=thread, role="user").content == "Please keep this text"


def test_an_answer_from_a_real_sdk_reports_provider_usage(
    client_for, owner, fake_provider, fake_upstream
):
    _, models = fake_provider
    workspace = workspace_create(owner=owner, name="Fake", model=models["cheap"])
    thread = Thread.objects.create(workspace=workspace, owner=owner)
    fake_upstream.script(reply="Routed answer", usage={"input_tokens": 1000, "output_tokens": 500})
    client = client_for(owner)
    post_message(client, thread, "hello")
    assistant = Message.objects.get(thread=thread, role="assistant")
    stream(client, assistant)
    assistant.refresh_from_db()
    assert assistant.content == "Routed answer"
    assert (assistant.input_tokens, assistant.output_tokens, assistant.usage_estimated) == (
        1000,
        500,
        False,
    )
    assert assistant.cost == Decimal("0.002")  # 1000 × $1/M + 500 × $2/M


def test_an_oversized_message_is_refused_and_nothing_is_stored(client_for, owner, thread, settings):
    settings.MAX_MESSAGE_CHARS = 10
    response = post_message(client_for(owner), thread, "x" * 11)
    assert response.status_code == 422
    assert "limit is 10" in response.content.decode()
    assert response["HX-Retarget"] == "#composer-errors"
    assert not Message.objects.filter(thread=thread).exists()


def test_a_file_that_is_not_an_image_is_refused(client_for, owner, thread):
    fake = SimpleUploadedFile("cat.png", b"not really a png", content_type="image/png")
    response = post_message(client_for(owner), thread, "look", images=fake)
    assert response.status_code == 422
    assert "not an image" in response.content.decode()
    assert not Message.objects.filter(thread=thread).exists()


def test_an_image_reaches_the_model_in_its_wire_format(
    client_for, owner, fake_provider, fake_upstream
):
    _, models = fake_provider
    workspace = workspace_create(owner=owner, name="Vision", model=models["vision"])
    thread = Thread.objects.create(workspace=workspace, owner=owner)
    client = client_for(owner)
    image = SimpleUploadedFile("dot.png", png_bytes(), content_type="image/png")
    assert post_message(client, thread, "what is this?", images=image).status_code == 200
    assistant = Message.objects.get(thread=thread, role="assistant")
    stream(client, assistant)
    body = fake_upstream.requests[-1].body
    parts = body["messages"][-1]["content"]
    assert any(
        p.get("type") == "image_url" and p["image_url"]["url"].startswith("data:image/png;base64,")
        for p in parts
    )


def test_outsiders_cannot_read_post_to_or_stream_someone_elses_thread(
    client_for, outsider, owner, thread
):
    post_message(client_for(owner), thread, "mine")
    assistant = Message.objects.get(thread=thread, role="assistant")
    client = client_for(outsider)
    assert client.get(reverse("thread", args=[thread.pk])).status_code == 404
    assert client.get(reverse("workspace", args=[thread.workspace_id])).status_code == 404
    assert post_message(client, thread, "intrusion").status_code == 404
    assert client.get(reverse("message_stream", args=[assistant.pk])).status_code == 404
    assert Message.objects.get(pk=assistant.pk).status == MessageStatus.PENDING


def test_a_workspace_member_does_not_see_a_teammates_threads(
    client_for, owner, teammate, workspace, thread
):
    workspace.members.add(teammate)
    client = client_for(teammate)
    assert client.get(reverse("workspace", args=[workspace.pk])).status_code == 200
    assert client.get(reverse("thread", args=[thread.pk])).status_code == 404


def test_starting_a_thread_posts_the_first_message_and_redirects(client_for, owner, workspace):
    response = client_for(owner).post(
        reverse("thread_start", args=[workspace.pk]),
        {"text": "First question"},
        HTTP_HX_REQUEST="true",
    )
    thread = Thread.objects.get(workspace=workspace)
    assert response["HX-Redirect"] == reverse("thread", args=[thread.pk])
    assert thread.title == "First question"


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_message_is_refused(client_for, owner, thread, text):
    assert post_message(client_for(owner), thread, text).status_code == 422
