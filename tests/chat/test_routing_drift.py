"""The chat holds a routed message to the same checks as /v1 and the preview: a router the user
may no longer use is refused with a clear message (never its rules), a pinned model must still
be enabled, and an invalid router's fallback to the primary model is logged like any answer."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chat.commands import thread_status
from chat.models import MessageStatus, Thread, Workspace
from chat.preview import preview_route
from decisions.models import RoutingDecision
from routers import services
from routers.demo import demo_router_ensure
from routers.models import Router, Rule, Visibility
from tests.chat.test_routed_chat import send

UNAVAILABLE = "is no longer available to you: its owner made it private"


@pytest.fixture(autouse=True)
def _on_commit(django_capture_on_commit_callbacks):
    import tests.chat.test_routed_chat as routed

    routed._capture = django_capture_on_commit_callbacks


@pytest.fixture
def shared_router(owner, demo_catalog):
    return demo_router_ensure(owner=owner)


@pytest.fixture
def teammate_thread(shared_router, owner, teammate):
    workspace = Workspace.objects.create(
        name="Team", owner=owner, mode="router", router=shared_router
    )
    workspace.members.add(owner, teammate)
    return Thread.objects.create(workspace=workspace, owner=teammate)


def _make_private(router, owner):
    assert router.visibility == Visibility.SHARED
    services.router_update(router=router, actor=owner, visibility=Visibility.PRIVATE)


def test_a_router_made_private_answers_nothing_for_others_and_says_why(
    client_for, owner, teammate, shared_router, teammate_thread
):
    _make_private(shared_router, owner)
    client = client_for(teammate)
    assistant, _ = send(client, teammate_thread, "My python function throws a stack trace")

    assert assistant.status == MessageStatus.ERROR
    assert UNAVAILABLE in assistant.error
    assert assistant.model_ref == "" and assistant.content == ""
    assert not RoutingDecision.objects.filter(message_id=assistant.pk).exists()


def test_the_pages_of_a_router_made_private_show_what_to_do_and_no_rule(
    client_for, owner, teammate, shared_router, teammate_thread
):
    _make_private(shared_router, owner)
    rule_names = list(Rule.objects.filter(router=shared_router).values_list("name", flat=True))
    client = client_for(teammate)

    page = client.get(reverse("thread", args=[teammate_thread.pk])).content.decode()
    assert UNAVAILABLE in page and "Ask whoever manages this workspace" in page

    preview = preview_route(
        user=teammate,
        workspace=teammate_thread.workspace,
        thread=teammate_thread,
        text="My python function throws a stack trace",
    )
    assert UNAVAILABLE in preview.note and preview.model == "" and preview.rule_name == ""

    status = thread_status(thread=teammate_thread)
    assert UNAVAILABLE in status
    for text in (page, status, preview.note):
        assert not [name for name in rule_names if name in text], "rule names leaked"
    assert "python" not in status, "keywords leaked"


def test_the_owner_still_routes_through_their_private_router(
    client_for, owner, shared_router, teammate_thread
):
    _make_private(shared_router, owner)
    thread = Thread.objects.create(workspace=teammate_thread.workspace, owner=owner)
    assistant, _ = send(client_for(owner), thread, "My python function throws a stack trace")
    assert assistant.status == MessageStatus.COMPLETE and assistant.model_ref == "demo/coder"


def test_a_pin_to_a_model_disabled_since_is_refused_like_a_per_message_pick(
    client_for, owner, demo_catalog, shared_router, teammate_thread
):
    small = demo_catalog["small"]
    thread = Thread.objects.create(
        workspace=teammate_thread.workspace, owner=owner, override_model=small
    )
    small.enabled = False
    small.save()

    assistant, _ = send(client_for(owner), thread, "Hello there")
    assert assistant.status == MessageStatus.ERROR
    assert "pinned to demo/small, which is not enabled any more" in assistant.error
    assert "/model auto" in assistant.error
    preview = preview_route(user=owner, workspace=thread.workspace, thread=thread, text="Hello")
    assert preview.note == assistant.error and preview.model == ""


def test_an_invalid_router_answers_with_its_primary_and_logs_the_decision_as_v1_does(
    client_for, owner, shared_router, teammate_thread
):
    # A rule broken behind the services' back (a hand edit in the database).
    Rule.objects.filter(router=shared_router).update(
        conditions=[{"property": "no_such_property", "operator": "eq", "value": 1}]
    )
    shared_router.version += 1
    shared_router.save(update_fields=["version"])
    # ... and published behind the services' back too (they refuse a draft that does not compile).
    services.publish_version(
        router=shared_router,
        snapshot=services.router_snapshot(router=shared_router),
        actor=owner,
        note="",
    )
    thread = Thread.objects.create(workspace=teammate_thread.workspace, owner=owner)

    assistant, _ = send(client_for(owner), thread, "My python function throws a stack trace")
    assert assistant.status == MessageStatus.COMPLETE
    assert assistant.model_ref == shared_router.primary_model.ref
    decision = RoutingDecision.objects.get(message_id=assistant.pk)
    assert decision.router_id == shared_router.pk
    assert decision.reason.startswith("Router is invalid")


@pytest.fixture
def sticky_thread(owner, demo_catalog):
    router = Router.objects.create(
        name="Sticky",
        slug="sticky",
        owner=owner,
        primary_model=demo_catalog["large"],
        sticky=True,
        cooldown_minutes=30,
    )
    Rule.objects.create(
        router=router,
        name="Code",
        position=1,
        conditions=[{"property": "keywords", "operator": "contains_any", "value": ["python"]}],
        target_model=demo_catalog["coder"],
    )
    workspace = Workspace.objects.create(name="Sticky", owner=owner, mode="router", router=router)
    workspace.members.add(owner)
    return Thread.objects.create(workspace=workspace, owner=owner)


def test_the_preview_names_the_sticky_model_that_then_answers(client_for, owner, sticky_thread):
    client = client_for(owner)
    first, _ = send(client, sticky_thread, "Why does my python loop never end?")
    assert first.model_ref == "demo/coder"

    follow_up = "And what about the weather today?"
    preview = preview_route(
        user=owner, workspace=sticky_thread.workspace, thread=sticky_thread, text=follow_up
    )
    answer, _ = send(client, sticky_thread, follow_up)
    assert (preview.model, preview.source) == ("demo/coder", "sticky")
    assert (answer.model_ref, answer.routing["source"]) == (preview.model, preview.source)


def test_the_preview_of_an_invalid_router_names_the_primary_model_that_answers(
    client_for, owner, shared_router, teammate_thread
):
    Rule.objects.filter(router=shared_router).update(
        conditions=[{"property": "no_such_property", "operator": "eq", "value": 1}]
    )
    shared_router.version += 1
    shared_router.save(update_fields=["version"])
    # ... and published behind the services' back too (they refuse a draft that does not compile).
    services.publish_version(
        router=shared_router,
        snapshot=services.router_snapshot(router=shared_router),
        actor=owner,
        note="",
    )
    thread = Thread.objects.create(workspace=teammate_thread.workspace, owner=owner)
    preview = preview_route(user=owner, workspace=thread.workspace, thread=thread, text="Hi")
    answer, _ = send(client_for(owner), thread, "Hi")
    assert preview.model == answer.model_ref == shared_router.primary_model.ref
    assert "router is invalid" in preview.note
