"""Data policies in the chat: the same planner step as /v1, checked at the fake upstream."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from chat.models import Message, MessageStatus, Thread, Workspace
from decisions.models import RoutingDecision
from governance.models import Policy
from planning.planner import decision_of, panel_request, plan_sync
from routers import services
from tests.chat.streaming import sse_events

CARD = "4111 1111 1111 1111"


@pytest.fixture(autouse=True)
def _capture(django_capture_on_commit_callbacks):
    global _on_commit
    _on_commit = django_capture_on_commit_callbacks
    yield


_on_commit = None


@pytest.fixture
def routed(owner, fake_provider):
    """A router whose primary (fake/backup) is also its classifier, with one LLM rule."""
    router = services.router_create(
        owner=owner, name="Team", slug="team", primary_model="fake/backup", actor=owner
    )
    services.rule_create(
        router=router,
        name="Legal",
        kind="llm",
        description="questions about contracts or law",
        target_model="fake/backup",
        actor=router.owner,
    )
    router.refresh_from_db()
    workspace = Workspace.objects.create(name="Sales", owner=owner, mode="router", router=router)
    workspace.members.add(owner)
    return Thread.objects.create(workspace=workspace, owner=owner)


def send(client, thread, text):
    client.post(reverse("message_create", args=[thread.pk]), {"text": text}, HTTP_HX_REQUEST="true")
    assistant = Message.objects.filter(thread=thread, role="assistant").order_by("-id").first()
    with _on_commit(execute=True):
        events = sse_events(client.get(reverse("message_stream", args=[assistant.pk])))
    assistant.refresh_from_db()
    return assistant, events


def customer_data(**fields):
    return Policy.objects.create(
        name="Customer data",
        detectors=["card"],
        action="restrict",
        approved=["fake/cheap"],
        **fields,
    )


def test_a_card_number_goes_only_to_an_approved_model_classifier_included(
    client_for, owner, routed, fake_upstream
):
    customer_data()
    assistant, events = send(client_for(owner), routed, f"Is this contract legal? card {CARD}")
    assert assistant.status == MessageStatus.COMPLETE
    assert assistant.model_ref == "fake/cheap"
    assert [r.model for r in fake_upstream.requests] == ["cheap"]
    policy = assistant.routing["policy"]
    assert policy["summary"] == 'policy "Customer data" (card number): approved models only'
    assert "4111" not in json.dumps(assistant.routing)
    assert "Customer data" in events[-1][1], "the badge names the policy"
    decision = RoutingDecision.objects.get(message_id=assistant.pk)
    assert "Customer data" in decision.reason and "4111" not in decision.reason


def test_the_card_in_an_earlier_message_still_binds_later_turns(
    client_for, owner, routed, fake_upstream
):
    customer_data()
    client = client_for(owner)
    send(client, routed, f"card {CARD}")
    send(client, routed, "what did I just send you?")
    assert {r.model for r in fake_upstream.requests} == {"cheap"}


def test_model_override_does_not_bypass_the_policy(client_for, owner, routed, fake_upstream):
    customer_data()
    client = client_for(owner)
    client.post(reverse("message_create", args=[routed.pk]), {"text": "/model fake/backup"})
    assistant, _ = send(client, routed, f"charge {CARD}")
    assert assistant.model_ref == "fake/cheap"
    assert "not approved by policy" in assistant.routing["reason"]
    assert {r.model for r in fake_upstream.requests} == {"cheap"}
    plain, _ = send(client, routed, "hello")
    # The earlier card is still in the conversation, so the restriction holds.
    assert plain.model_ref == "fake/cheap"


def test_a_workspace_policy_applies_to_its_workspace_only(client_for, owner, routed, fake_upstream):
    customer_data(scope="workspace", workspace_id=routed.workspace_id + 1000)
    assistant, _ = send(client_for(owner), routed, f"card {CARD}")
    assert assistant.model_ref == "fake/backup"


def test_masking_shows_the_user_what_was_sent(client_for, owner, routed, fake_upstream):
    Policy.objects.create(name="Mask cards", detectors=["card"], action="mask")
    client = client_for(owner)
    assistant, _ = send(client, routed, f"my card is {CARD}")
    sent = " ".join(json.dumps(r.body) for r in fake_upstream.requests)
    assert "4111" not in sent and "[card number]" in sent
    assert assistant.routing["policy"]["sent_text"] == "my card is [card number]"
    page = client.get(reverse("thread", args=[routed.pk])).content.decode()
    assert "policy “Mask cards”: masked card number" in page
    assert '<q class="sent-text">my card is [card number]</q>' in page


def test_a_refusal_calls_no_model_and_keeps_the_message(client_for, owner, routed, fake_upstream):
    Policy.objects.create(name="No secrets", detectors=["secret"], action="refuse")
    assistant, _ = send(
        client_for(owner), routed, "token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"
    )
    assert assistant.status == MessageStatus.ERROR
    assert 'Refused by policy "No secrets"' in assistant.error
    assert fake_upstream.requests == []
    decision = RoutingDecision.objects.get(message_id=assistant.pk)
    assert (decision.source, decision.policy, decision.policy_action) == (
        "policy",
        "No secrets",
        "refuse",
    )
    assert "ghp_" not in decision.reason + decision.policy
    assert Message.objects.filter(thread=routed, role="user").count() == 1


def test_the_test_panel_and_dry_run_show_the_policy(owner, routed):
    customer_data(scope="router", router_id=routed.workspace.router_id)
    router = routed.workspace.router
    plan = plan_sync(panel_request(router=router, user=owner, text=CARD))
    decision = decision_of(plan)
    assert decision["model"] == "fake/cheap"
    assert 'fake/backup: not approved by policy "Customer data"' in decision["reason"]
    assert "4111" not in str(decision)


def test_the_django_admin_refuses_an_invalid_policy(client_for, admin_user):
    client = client_for(admin_user)
    response = client.post(
        reverse("admin:governance_policy_add"),
        {
            "name": "Broken",
            "enabled": "on",
            "scope": "instance",
            "patterns": "(unclosed",
            "keywords": "",
            "action": "mask",
        },
    )
    assert response.status_code == 200
    assert "unbalanced parenthesis" in response.content.decode()
    assert not Policy.objects.exists()


def test_an_admin_sets_a_customer_data_policy_with_checkboxes(client_for, admin_user, routed):
    response = client_for(admin_user).post(
        reverse("admin:governance_policy_add"),
        {
            "name": "Customer data",
            "enabled": "on",
            "scope": "instance",
            "detectors": ["card", "iban"],
            "patterns": "",
            "keywords": "",
            "action": "restrict",
            "approved": ["fake/cheap"],
        },
    )
    assert response.status_code == 302
    policy = Policy.objects.get()
    assert policy.detectors == ["card", "iban"] and policy.approved == ["fake/cheap"]
