"""Chat routes with the router's published version; the draft changes nothing until published,
and each decision records the version that made it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from decisions.models import RoutingDecision
from routers import services, versions
from tests.chat.test_routed_chat import (  # noqa: F401  # noqa: F401
    _run_on_commit_callbacks,
    routed_thread,
    router_workspace,
    send,
)

pytestmark = pytest.mark.django_db


def test_chat_answers_with_the_published_version_until_the_draft_is_published(
    client_for,
    owner,
    routed_thread,  # noqa: F811
):
    router = routed_thread.workspace.router
    code = router.rules.get(name="Code questions")
    services.rule_update(rule=code, target_model="demo/large", actor=owner)
    client = client_for(owner)

    first, _ = send(client, routed_thread, "My python function throws a stack trace")
    assert (first.model_ref, first.routing["router_version"]) == ("demo/coder", 1)

    versions.router_publish(router=router, actor=owner)
    second, _ = send(client, routed_thread, "My python function throws a stack trace")
    assert (second.model_ref, second.routing["router_version"]) == ("demo/large", 2)
    logged = RoutingDecision.objects.order_by("created_at", "id")
    assert [(d.router_version, d.rule_name) for d in logged] == [
        (1, "Code questions"),
        (2, "Code questions"),
    ]


def test_the_status_command_describes_the_published_version(
    client_for,
    owner,
    routed_thread,  # noqa: F811
):
    router = routed_thread.workspace.router
    services.rule_delete(rule=router.rules.get(name="Code questions"), actor=owner)
    client_for(owner).post(
        reverse("message_create", args=[routed_thread.pk]),
        {"text": "/status"},
    )
    note = routed_thread.messages.get(role="note")
    assert "(v1)" in note.content and "Code questions" in note.content
