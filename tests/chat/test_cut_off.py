"""Chat: an answer cut mid-stream is continued only when verifiably a continuation; otherwise
it is marked *cut off* with what was received, and offers to continue it or regenerate it on
the next model of the chain."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chat.models import Message, MessageStatus, Thread, Workspace
from decisions.models import RoutingDecision
from routers.models import Router, Rule
from routerweb import clock as clocks
from tests.chat.streaming import sse_events
from tests.fakeclock import FakeClock

REPLY = "The quick brown fox jumps over the lazy dog and then runs far away from the farm"
SHOWN = "The quick brown fox jumps over the lazy "


@pytest.fixture(autouse=True)
def clock(fake_upstream):
    fake = FakeClock()
    clocks.install(fake)
    fake_upstream.clock = fake
    yield fake
    fake_upstream.clock = None
    clocks.install(None)


@pytest.fixture
def thread(owner, fake_provider):
    _, models = fake_provider
    router = Router.objects.create(
        name="F", slug="f", owner=owner, primary_model=models["cheap"], fallbacks=["fake/backup"]
    )
    Rule.objects.create(
        router=router,
        name="All",
        position=0,
        target_model=models["cheap"],
        conditions=[{"property": "message_chars", "operator": "gte", "value": 0}],
    )
    workspace = Workspace.objects.create(name="W", owner=owner, mode="router", router=router)
    return Thread.objects.create(workspace=workspace, owner=owner)


def stream(client, answer, capture):
    with capture(execute=True):
        events = sse_events(client.get(reverse("message_stream", args=[answer.pk])))
    answer.refresh_from_db()
    return events


def send(client, thread, text, capture):
    client.post(reverse("message_create", args=[thread.pk]), {"text": text}, HTTP_HX_REQUEST="true")
    answer = Message.objects.filter(thread=thread, role="assistant").order_by("-id").first()
    return answer, stream(client, answer, capture)


def test_a_cut_answer_continued_elsewhere_names_both_models(
    client_for, owner, thread, fake_upstream, django_capture_on_commit_callbacks
):
    fake_upstream.script(model="cheap", reply=REPLY, drop_after_chunks=8)
    fake_upstream.script(model="backup", reply=REPLY, on_continue="continue")

    answer, events = send(client_for(owner), thread, "tell me", django_capture_on_commit_callbacks)

    assert answer.status == MessageStatus.COMPLETE and answer.content == REPLY
    assert answer.routing["models"] == ["fake/cheap", "fake/backup"]
    assert "fake/cheap → fake/backup" in events[-1][1], "the badge names every model, in order"
    outcomes = [a["outcome"] for a in RoutingDecision.objects.get(message_id=answer.pk).attempts]
    assert outcomes == ["cut_off", "continued"]


def test_a_cut_answer_not_continued_is_marked_cut_off_and_can_be_continued_on_the_next_model(
    client_for, owner, thread, fake_upstream, django_capture_on_commit_callbacks
):
    client = client_for(owner)
    fake_upstream.script(model="cheap", reply=REPLY, drop_after_chunks=8)
    fake_upstream.script(model="backup", times=1, reply=REPLY, on_continue="restart")

    answer, events = send(client, thread, "tell me", django_capture_on_commit_callbacks)

    assert answer.status == MessageStatus.INCOMPLETE, "never presented as complete"
    assert answer.content == SHOWN, "what was received is kept, nothing spliced on"
    row = events[-1][1]
    assert "Cut off" in row
    assert "Continue with fake/backup" in row and "Regenerate with fake/backup" in row

    # The user asks the next model to continue; this time it does.
    fake_upstream.script(model="backup", reply=REPLY, on_continue="continue")
    client.post(
        reverse("message_continue", args=[answer.pk]),
        {"model": "fake/backup"},
        HTTP_HX_REQUEST="true",
    )
    events = stream(client, answer, django_capture_on_commit_callbacks)

    assert answer.status == MessageStatus.COMPLETE and answer.content == REPLY
    assert answer.routing["models"] == ["fake/cheap", "fake/backup"]
    assert answer.routing["continued"]
    sent = [r for r in fake_upstream.requests if r.model == "backup"][-1].body["messages"]
    assert sent[-2] == {"role": "assistant", "content": SHOWN}
    assert "Cut off" not in events[-1][1]
    assert answer.cost > 0 and answer.output_tokens > 0


def test_a_continuation_that_is_not_one_leaves_the_answer_cut_off(
    client_for, owner, thread, fake_upstream, django_capture_on_commit_callbacks
):
    client = client_for(owner)
    fake_upstream.script(model="cheap", reply=REPLY, drop_after_chunks=8)
    fake_upstream.script(model="backup", reply=REPLY, on_continue="restart")
    answer, _ = send(client, thread, "tell me", django_capture_on_commit_callbacks)
    cost = answer.cost

    client.post(
        reverse("message_continue", args=[answer.pk]),
        {"model": "fake/backup"},
        HTTP_HX_REQUEST="true",
    )
    stream(client, answer, django_capture_on_commit_callbacks)

    assert answer.status == MessageStatus.INCOMPLETE and answer.content == SHOWN
    assert answer.cost > cost, "the refused continuation's tokens are still counted"


def test_regenerate_on_the_next_model_answers_from_the_start(
    client_for, owner, thread, fake_upstream, django_capture_on_commit_callbacks
):
    client = client_for(owner)
    fake_upstream.script(model="cheap", reply=REPLY, drop_after_chunks=8)
    fake_upstream.script(model="backup", times=1, reply=REPLY, on_continue="restart")
    answer, _ = send(client, thread, "tell me", django_capture_on_commit_callbacks)

    fake_upstream.script(model="backup", reply="A fresh whole answer.")
    client.post(
        reverse("message_regenerate", args=[answer.pk]),
        {"model": "fake/backup"},
        HTTP_HX_REQUEST="true",
    )
    stream(client, answer, django_capture_on_commit_callbacks)

    assert answer.status == MessageStatus.COMPLETE and answer.content == "A fresh whole answer."


@pytest.mark.parametrize("status", [MessageStatus.COMPLETE, MessageStatus.ERROR])
def test_only_a_cut_off_answer_can_be_continued(client_for, owner, thread, status):
    answer = Message.objects.create(thread=thread, role="assistant", status=status, content="Done.")

    response = client_for(owner).post(
        reverse("message_continue", args=[answer.pk]),
        {"model": "fake/backup"},
        HTTP_HX_REQUEST="true",
    )

    assert "cut off can be continued" in response.content.decode()
    answer.refresh_from_db()
    assert answer.status == status and answer.content == "Done."


def test_someone_elses_answer_cannot_be_continued(client_for, outsider, owner, thread):
    answer = Message.objects.create(
        thread=thread, role="assistant", status=MessageStatus.INCOMPLETE, content="Half"
    )

    response = client_for(outsider).post(
        reverse("message_continue", args=[answer.pk]), {"model": "fake/backup"}
    )

    assert response.status_code == 404
    answer.refresh_from_db()
    assert answer.status == MessageStatus.INCOMPLETE


def test_the_routers_own_policy_applies_to_its_models(
    client_for, owner, thread, fake_upstream, clock, django_capture_on_commit_callbacks
):
    from routers import services

    router = thread.workspace.router
    services.router_set_failover_policy(
        router=router,
        overrides={"first_token_timeout": 3, "continue_cut_answers": False},
        actor=router.owner,
    )
    fake_upstream.script(model="cheap", delay_first_byte=5)  # 5 s of silence, in virtual time
    fake_upstream.script(model="backup", reply=REPLY)

    answer, _ = send(client_for(owner), thread, "tell me", django_capture_on_commit_callbacks)

    assert clock.fired == [3.0], "the router's first-token limit, not the default 15 s"
    first = answer.routing["attempts"][0]
    assert (first["model"], first["outcome"]) == ("fake/cheap", "failed_over")
    assert "No first token within 3 s" in first["message"]


def test_stopping_a_continuation_before_it_starts_keeps_what_was_received(
    client_for, owner, thread, fake_upstream, django_capture_on_commit_callbacks
):
    from asgiref.sync import async_to_sync

    from chat.answering import answer_stop

    client = client_for(owner)
    fake_upstream.script(model="cheap", reply=REPLY, drop_after_chunks=8)
    fake_upstream.script(model="backup", reply=REPLY, on_continue="restart")
    answer, _ = send(client, thread, "tell me", django_capture_on_commit_callbacks)

    client.post(
        reverse("message_continue", args=[answer.pk]),
        {"model": "fake/backup"},
        HTTP_HX_REQUEST="true",
    )
    async_to_sync(answer_stop)(answer.pk)
    stream(client, answer, django_capture_on_commit_callbacks)

    assert answer.status == MessageStatus.INCOMPLETE and answer.content == SHOWN
