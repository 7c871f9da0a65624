"""The database connection dies while a chat answer streams (a PostgreSQL restart or failover):
the answer is stored as failed with its text kept, the stream says so, the decision is logged,
and the browser does not reconnect in a loop."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import connection
from django.urls import reverse

from chat.models import Message, MessageStatus, Thread, Workspace
from chat.services import message_post
from decisions.models import RoutingDecision
from routers.demo import demo_router_ensure


def _blocks(body: str) -> list[tuple[str, str]]:
    events = []
    for block in body.split("\n\n"):
        name, data = "", []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line.startswith("retry: "):
                name, data = "retry", [line[7:]]
        if name:
            events.append((name, "\n".join(data)))
    return events


def _kill_other_connections() -> int:
    """What a PostgreSQL restart does to the app's connections: terminate every backend of
    this database but the one used to do it."""
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        rows = admin.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where datname = current_database() and pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


@pytest.fixture
def pending_answer(transactional_db, owner, demo_catalog):
    router = demo_router_ensure(owner=owner)
    workspace = Workspace.objects.create(name="Routed", owner=owner, mode="router", router=router)
    workspace.members.add(owner)
    thread = Thread.objects.create(workspace=workspace, owner=owner)
    _, assistant = message_post(thread=thread, text="my python code crashes with a traceback")
    yield assistant
    connection.close()  # after a kill, this thread's connection is dead too: reconnect for teardown


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="kills PostgreSQL backends (the CI run on PostgreSQL)"
)
async def test_a_connection_killed_mid_stream_ends_the_answer_failed_with_its_text(
    async_client, owner, pending_answer
):
    await async_client.aforce_login(owner)
    response = await async_client.get(reverse("message_stream", args=[pending_answer.pk]))
    chunks = aiter(response.streaming_content)
    received = b""
    while b"event: chunk" not in received:  # the model is answering
        received += await anext(chunks)
    killed = await sync_to_async(_kill_other_connections, thread_sensitive=False)()
    assert killed >= 1
    async for chunk in chunks:  # the rest of the answer, then storing it
        received += chunk
    events = _blocks(received.decode())
    names = [name for name, _ in events]
    assert "failed" in names, names
    assert names[-1] == "done"
    assert "sse-connect" not in events[-1][1], "the final row must not reconnect"

    def stored():
        connection.close()  # the test's own connection was killed too
        message = Message.objects.get(pk=pending_answer.pk)
        return message, RoutingDecision.objects.filter(message_id=message.pk).count()

    message, decisions = await sync_to_async(stored)()
    assert message.status == MessageStatus.ERROR
    assert message.content.strip(), "the text received is kept"
    assert "database" in message.error
    assert decisions == 1


def test_a_stream_for_a_message_another_stream_has_backs_off(client_for, owner, pending_answer):
    Message.objects.filter(pk=pending_answer.pk).update(status=MessageStatus.STREAMING)
    response = client_for(owner).get(reverse("message_stream", args=[pending_answer.pk]))

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    body = async_to_sync(collect)().decode()
    events = _blocks(body)
    # No `done` row (it would carry sse-connect and reconnect at once, 90 times in 5 s); the
    # browser waits the retry delay instead.
    assert [name for name, _ in events] == ["retry"]
    assert int(events[0][1]) >= 1000
