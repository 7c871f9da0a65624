"""Feedback on answers (thumbs, reason) and the events that disagree with the router
(regenerate, pin, send to), credited to the routing decision; analytics per rule and model;
feedback for a /v1 completion through the JSON API."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from decisions.models import Feedback, RoutingDecision, RoutingEvent
from tests.chat.routed import HX, regenerate, routed_thread_for, send

CODE = "My python function throws a stack trace"


@pytest.fixture
def routed(owner, demo_catalog):
    return routed_thread_for(owner)


def _rate(client, answer, rating, reason=""):
    return client.post(
        reverse("message_feedback", args=[answer.pk]), {"rating": rating, "reason": reason}, **HX
    )


def test_a_thumb_on_an_answer_is_stored_with_its_routing_decision(
    client_for, owner, routed, django_capture_on_commit_callbacks
):
    client = client_for(owner)
    answer = send(client, django_capture_on_commit_callbacks, routed, CODE)
    page = client.get(reverse("thread", args=[routed.pk])).content.decode()
    assert 'aria-label="Good answer"' in page and 'aria-label="Bad answer"' in page

    response = _rate(client, answer, "down")
    assert response.status_code == 200
    assert 'aria-pressed="true"' in response.content.decode()
    decision = RoutingDecision.objects.get(message_id=answer.pk)
    feedback = Feedback.objects.get()
    assert feedback.decision_uid == decision.uid, "linked to the decision that routed it"
    assert feedback.rating == "down" and feedback.user == owner
    assert feedback.rule_name == "Code questions" and feedback.rule == decision.rule
    assert feedback.model_ref == "demo/coder"

    _rate(client, answer, "down", "Too short, missed the point")
    feedback.refresh_from_db()
    assert feedback.reason == "Too short, missed the point"
    assert "Too short" in client.get(reverse("thread", args=[routed.pk])).content.decode()

    _rate(client, answer, "up")
    feedback.refresh_from_db()
    assert feedback.rating == "up" and Feedback.objects.count() == 1
    _rate(client, answer, "")  # the same thumb again: taken back
    assert not Feedback.objects.exists()


def test_bad_feedback_is_refused_and_changes_nothing(
    client_for, owner, teammate, routed, django_capture_on_commit_callbacks
):
    client = client_for(owner)
    answer = send(client, django_capture_on_commit_callbacks, routed, CODE)
    assert _rate(client, answer, "meh").status_code == 422
    assert _rate(client, answer, "up", "x" * 501).status_code == 422
    question = routed.messages.filter(role="user").first()
    assert _rate(client, question, "up").status_code == 422, "only answers are rated"
    assert _rate(client_for(teammate), answer, "up").status_code == 404
    assert not Feedback.objects.exists()


def test_regenerating_with_another_model_is_an_override_of_the_rule(
    client_for, owner, routed, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    client = client_for(owner)
    answer = send(client, capture, routed, CODE)
    first_uid = answer.routing["decision_uid"]
    regenerate(client, capture, answer)  # routed again: a regenerate, not an override
    second_uid = answer.routing["decision_uid"]
    regenerate(client, capture, answer, "demo/large")
    assert answer.model_ref == "demo/large"

    plain, moved = RoutingEvent.objects.order_by("id")
    assert plain.kind == "regenerate" and not plain.moved
    assert str(plain.decision_uid) == first_uid
    assert moved.kind == "regenerate" and moved.moved
    assert str(moved.decision_uid) == second_uid
    assert (moved.rule_name, moved.from_model, moved.to_model) == (
        "Code questions",
        "demo/coder",
        "demo/large",
    )
    assert RoutingDecision.objects.filter(uid=second_uid).exists()


def test_pinning_after_a_routed_answer_overrides_it_and_sending_elsewhere_too(
    client_for, owner, routed, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    client = client_for(owner)
    send(client, capture, routed, CODE, once_model="demo/large")
    sent = RoutingEvent.objects.get()
    assert sent.kind == "send_to" and sent.moved and sent.decision_uid is None
    assert (sent.rule_name, sent.from_model, sent.to_model) == (
        "Code questions",
        "demo/coder",
        "demo/large",
    )
    answer = send(client, capture, routed, "Hello, how are you today?")
    assert answer.routing["rule_name"] == "Everyday questions"
    client.post(reverse("message_create", args=[routed.pk]), {"text": "/model demo/large"}, **HX)
    pin = RoutingEvent.objects.latest("id")
    assert pin.kind == "pin" and pin.moved
    assert str(pin.decision_uid) == answer.routing["decision_uid"]
    assert (pin.rule_name, pin.from_model) == ("Everyday questions", "demo/small")
    # Sending to the model the router would pick anyway is no override.
    client.post(reverse("message_create", args=[routed.pk]), {"text": "/model auto"}, **HX)
    send(client, capture, routed, CODE, once_model="demo/coder")
    assert RoutingEvent.objects.count() == 2


def test_analytics_show_satisfaction_and_override_rates_and_the_weakest_rule(
    client_for, owner, routed, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    client = client_for(owner)
    for _ in range(5):
        answer = send(client, capture, routed, CODE)
        _rate(client, answer, "down")
        regenerate(client, capture, answer, "demo/large")
    for _ in range(5):
        answer = send(client, capture, routed, "Hello, how are you today?")
        _rate(client, answer, "up")
    router = routed.workspace.router
    page = client.get(reverse("router_analytics", args=[router.pk])).content.decode()
    assert "Feedback and overrides" in page
    assert "Weakest rule: Code questions" in page
    start = page.index('class="weakest"')
    row = page[start : page.index("</tr>", start)]
    assert "Code questions" in row
    assert "0.0%" in row, "satisfaction: five thumbs down"
    assert "100.0%" in row, "override and regenerate rate: all five moved"
    assert "demo/large" in row, "where they went"


def test_a_v1_completion_is_rated_through_the_json_api(client, owner, teammate, demo_catalog):
    from accounts.tokens import api_token_create

    uid = uuid.uuid4()
    RoutingDecision.objects.create(
        uid=uid,
        user=owner,
        channel="api",
        rule_name="Code questions",
        source="rule",
        answered_by="demo/coder",
        cost=Decimal("0"),
        created_at=timezone.now(),
    )
    _, token = api_token_create(user=owner, name="ci")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    url = f"/api/decisions/feedback/chatcmpl-{uid}"
    response = client.put(
        url, {"rating": "down", "reason": "wrong"}, content_type="application/json", **auth
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["rating"] == "down" and body["rule_name"] == "Code questions"
    feedback = Feedback.objects.get()
    assert feedback.channel == "api" and feedback.decision_uid == uid
    assert (
        client.put(url, {"rating": "sideways"}, content_type="application/json", **auth).status_code
        == 422
    )
    _, other = api_token_create(user=teammate, name="ci")
    assert (
        client.put(
            url,
            {"rating": "up"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {other}",
        ).status_code
        == 404
    ), "someone else's completion"
    assert (
        client.put(
            "/api/decisions/feedback/nonsense",
            {"rating": "up"},
            content_type="application/json",
            **auth,
        ).status_code
        == 404
    )
    assert client.delete(url, **auth).status_code == 204
    assert not Feedback.objects.exists()
