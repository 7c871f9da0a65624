"""Chatting through the demo router from tests: a routed workspace and a `send` that posts a
message through the chat view and streams its answer to the end."""

from __future__ import annotations

from django.urls import reverse

from chat.models import Message, Thread, Workspace
from routers.demo import demo_router_ensure
from tests.chat.streaming import sse_events

HX = {"HTTP_HX_REQUEST": "true"}


def routed_thread_for(owner) -> Thread:
    router = demo_router_ensure(owner=owner)
    workspace = Workspace.objects.create(name="Routed", owner=owner, mode="router", router=router)
    workspace.members.add(owner)
    return Thread.objects.create(workspace=workspace, owner=owner)


def stream(client, capture, message: Message) -> list[tuple[str, str]]:
    """Stream `message`'s answer through the view; decisions are logged on commit."""
    with capture(execute=True):
        events = sse_events(client.get(reverse("message_stream", args=[message.pk])))
    message.refresh_from_db()
    return events


def send(client, capture, thread: Thread, text: str, **extra) -> Message:
    response = client.post(
        reverse("message_create", args=[thread.pk]), {"text": text, **extra}, **HX
    )
    assert response.status_code == 200, response.content
    answer = Message.objects.filter(thread=thread, role="assistant").order_by("-id").first()
    assert answer is not None
    stream(client, capture, answer)
    return answer


def regenerate(client, capture, answer: Message, model: str = "") -> Message:
    response = client.post(reverse("message_regenerate", args=[answer.pk]), {"model": model}, **HX)
    assert response.status_code == 200, response.content
    stream(client, capture, answer)
    return answer
