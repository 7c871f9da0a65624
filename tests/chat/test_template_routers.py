"""Each template, created on a fresh install's demo catalog, answers its example messages in
chat with the models its design promises (workspace context included)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chat.models import Message, Thread, Workspace
from decisions.models import RoutingDecision
from routers.router_templates import TEMPLATES, router_create_from_template
from tests.chat.streaming import sse_events


def _send(client, thread, text, capture):
    client.post(reverse("message_create", args=[thread.pk]), {"text": text}, HTTP_HX_REQUEST="true")
    assistant = Message.objects.filter(thread=thread, role="assistant").order_by("-id").first()
    with capture(execute=True):
        sse_events(client.get(reverse("message_stream", args=[assistant.pk])))
    assistant.refresh_from_db()
    return assistant


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_each_template_answers_its_examples_in_chat_with_the_promised_models(
    name, client_for, owner, demo_catalog, django_capture_on_commit_callbacks
):
    router, plan = router_create_from_template(owner=owner, template=name)
    client = client_for(owner)
    for number, planned in enumerate(plan.examples):
        example = planned.example
        workspace = Workspace.objects.create(
            name=f"{name} {number}",
            owner=owner,
            mode="router",
            router=router,
            workspace_type=example.workspace_type or "general",
            tags=list(example.workspace_tags),
        )
        workspace.members.add(owner)
        thread = Thread.objects.create(workspace=workspace, owner=owner)
        if example.user_tier:
            client.post(
                reverse("message_create", args=[thread.pk]),
                {"text": f"/tier {example.user_tier}"},
                HTTP_HX_REQUEST="true",
            )
            thread.refresh_from_db()
            assert thread.tier == example.user_tier
        assistant = _send(client, thread, example.text, django_capture_on_commit_callbacks)
        assert assistant.model_ref == planned.model, (example.why, assistant.routing["reason"])
        decision = RoutingDecision.objects.get(message_id=assistant.pk)
        assert decision.answered_by == planned.model
        if example.tier:
            assert assistant.routing["tier"] == example.tier, assistant.routing["reason"]
        if example.profile:
            profile = assistant.routing["profile"]
            assert profile["name"] == example.profile
            assert f"profile “{example.profile}” chose {planned.model}" in decision.reason


def test_the_badge_says_which_profile_chose_the_model_and_how_it_was_scored(
    client_for, owner, demo_catalog, django_capture_on_commit_callbacks
):
    router, _ = router_create_from_template(owner=owner, template="profiles")
    workspace = Workspace.objects.create(name="P", owner=owner, mode="router", router=router)
    workspace.members.add(owner)
    thread = Thread.objects.create(workspace=workspace, owner=owner)
    client = client_for(owner)
    _send(client, thread, "Write a haiku about the sea", django_capture_on_commit_callbacks)
    page = client.get(reverse("thread", args=[thread.pk])).content.decode()
    assert "profile “creative”: family demo (preferred #1), $18.00 per 1M in + out" in page
    assert "data-profile-detail" in page
