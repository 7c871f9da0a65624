"""Tiers and category × complexity through the chat view: `/tier`, `/status`, the badge and
the decision log record the tier of every turn."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chat.models import Message, Thread, Workspace
from decisions.models import RoutingDecision
from routers import services
from routers.demo import demo_router_ensure
from routers.versions import router_publish
from tests.chat.test_routed_chat import send

HX = {"HTTP_HX_REQUEST": "true"}

TIERS = [
    {"name": "balanced", "model": "demo/small"},
    {"name": "smart", "model": "", "fallback": "balanced"},
    {"name": "coding", "model": "demo/coder", "fallback": "smart"},
    {"name": "deep", "model": "demo/large", "fallback": "smart"},
]


@pytest.fixture(autouse=True)
def _run_on_commit_callbacks(django_capture_on_commit_callbacks):
    import tests.chat.test_routed_chat as routed

    routed._capture = django_capture_on_commit_callbacks
    yield


@pytest.fixture
def tiered_router(owner, demo_catalog):
    router = demo_router_ensure(owner=owner)
    services.router_set_tiers(router=router, tiers=TIERS, default_tier="balanced", actor=owner)
    router_publish(router=router, actor=owner)  # traffic routes with the published version
    router.refresh_from_db()
    return router


@pytest.fixture
def tiered_thread(tiered_router, owner):
    workspace = Workspace.objects.create(
        name="Tiered", owner=owner, mode="router", router=tiered_router
    )
    workspace.members.add(owner)
    return Thread.objects.create(workspace=workspace, owner=owner)


def command(client, thread, text):
    client.post(reverse("message_create", args=[thread.pk]), {"text": text}, **HX)
    return Message.objects.filter(thread=thread, role="note").order_by("-id").first()


def test_tier_command_pins_the_tier_and_bypasses_the_rules(client_for, owner, tiered_thread):
    client = client_for(owner)
    note = command(client, tiered_thread, "/tier deep")
    assert "“deep” → demo/large" in note.content and "/tier auto" in note.content
    tiered_thread.refresh_from_db()
    assert tiered_thread.tier == "deep"
    # A code question would go to the coder by rule; the user's tier wins.
    assistant, events = send(client, tiered_thread, "My python function throws a stack trace")
    assert assistant.model_ref == "demo/large"
    assert assistant.routing["tier"] == "deep" and assistant.routing["tier_source"] == "user"
    assert "Tier “deep” (you chose it)" in assistant.routing["reason"]
    decision = RoutingDecision.objects.get(message_id=assistant.pk)
    assert (decision.tier, decision.tier_source) == ("deep", "user")
    assert "deep" in events[-1][1], "the badge shows the tier"

    note = command(client, tiered_thread, "/tier")
    assert "you chose it with /tier" in note.content
    note = command(client, tiered_thread, "/tier auto")
    assert "Back to automatic tiers" in note.content
    tiered_thread.refresh_from_db()
    assert tiered_thread.tier == ""


def test_the_picker_offers_the_tiers_and_follows_the_tier_command(client_for, owner, tiered_thread):
    client = client_for(owner)
    page = client.get(reverse("thread", args=[tiered_thread.pk])).content.decode()
    for name in ("balanced", "smart", "coding", "deep"):
        assert f'<option value="tier:{name}" >Tier {name}</option>' in page
    assert "tier-chip" not in page

    # /tier answers with the picker out of band: the tier is selected and the chip shows it.
    response = client.post(
        reverse("message_create", args=[tiered_thread.pk]), {"text": "/tier deep"}, **HX
    )
    html = response.content.decode()
    assert 'id="thread-picker"' in html and 'hx-swap-oob="true"' in html
    assert '<option value="tier:deep" selected>Tier deep</option>' in html
    assert 'class="pill tier-chip"' in html and "tier deep</span>" in html

    # Picking a tier in the picker is /tier NAME; picking Auto undoes it.
    response = client.post(
        reverse("thread_model", args=[tiered_thread.pk]), {"model": "tier:coding"}, **HX
    )
    tiered_thread.refresh_from_db()
    assert tiered_thread.tier == "coding" and tiered_thread.override_model is None
    assert "“coding” → demo/coder" in response.content.decode()
    response = client.post(
        reverse("thread_model", args=[tiered_thread.pk]), {"model": "auto"}, **HX
    )
    tiered_thread.refresh_from_db()
    assert tiered_thread.tier == "" and tiered_thread.override_model is None
    html = response.content.decode()
    assert "Back to automatic tiers" in html and "tier-chip" not in html
    assert '<option value="auto" selected>' in html

    # A pinned model outranks a tier: the picker shows the model and the pinned chip.
    command(client, tiered_thread, "/tier deep")
    response = client.post(
        reverse("message_create", args=[tiered_thread.pk]), {"text": "/model demo/small"}, **HX
    )
    html = response.content.decode()
    assert "📌 pinned" in html and "tier-chip" not in html
    assert '<option value="demo/small" selected>' in html
    response = client.post(
        reverse("thread_model", args=[tiered_thread.pk]), {"model": "tier:nowhere"}, **HX
    )
    assert "Unknown tier" in response.content.decode()


def test_an_unknown_tier_is_refused_and_names_the_tiers(client_for, owner, tiered_thread):
    response = client_for(owner).post(
        reverse("message_create", args=[tiered_thread.pk]), {"text": "/tier huge"}, **HX
    )
    assert "Unknown tier" in response.content.decode()
    assert "balanced, smart, coding, deep" in response.content.decode()
    tiered_thread.refresh_from_db()
    assert tiered_thread.tier == ""


def test_status_says_which_tier_is_active_and_why(client_for, owner, tiered_thread):
    client = client_for(owner)
    note = command(client, tiered_thread, "/status")
    assert "otherwise the default tier “balanced” → demo/small" in note.content
    tiered_thread.workspace.tier = "coding"
    tiered_thread.workspace.save()
    note = command(client, tiered_thread, "/status")
    assert "Tier “coding” → demo/coder: the workspace's tier" in note.content


def test_the_workspace_tier_applies_and_the_users_outranks_it(client_for, owner, tiered_thread):
    client = client_for(owner)
    tiered_thread.workspace.tier = "coding"
    tiered_thread.workspace.save()
    assistant, _ = send(client, tiered_thread, "Hello, how are you today?")
    assert assistant.model_ref == "demo/coder"
    assert assistant.routing["tier_source"] == "workspace"
    command(client, tiered_thread, "/tier balanced")
    assistant, _ = send(client, tiered_thread, "Hello, how are you today?")
    assert assistant.model_ref == "demo/small" and assistant.routing["tier_source"] == "user"


def test_an_unset_tier_falls_back_and_the_badge_says_so(client_for, owner, tiered_thread):
    client = client_for(owner)
    command(client, tiered_thread, "/tier smart")
    assistant, _ = send(client, tiered_thread, "Hello")
    assert assistant.model_ref == "demo/small"
    assert assistant.routing["tier_via"] == ["smart"]
    assert "(“smart” unset)" in assistant.routing["reason"]


def test_escalation_by_the_demo_classifier(client_for, owner, tiered_router, tiered_thread):
    tiered_router.rules.all().delete()
    services.router_set_tiers(router=tiered_router, tiers=TIERS, escalation=True, actor=owner)
    router_publish(router=tiered_router, actor=owner)
    client = client_for(owner)
    assistant, _ = send(client, tiered_thread, "hi there")
    assert (assistant.routing["tier"], assistant.model_ref) == ("balanced", "demo/small")
    assistant, _ = send(
        client, tiered_thread, "Design the architecture of a distributed cache, step by step"
    )
    assert assistant.routing["tier"] == "deep" and assistant.routing["tier_source"] == "escalation"
    assert assistant.model_ref == "demo/large"
    assert assistant.routing["classifier_called"] is True


def test_category_rules_route_by_the_demo_classifiers_judgement(
    client_for, owner, tiered_router, tiered_thread
):
    tiered_router.rules.all().delete()
    services.rule_create(
        router=tiered_router,
        name="Code",
        kind="calculated",
        conditions=[{"property": "category", "operator": "eq", "value": "code"}],
        target_tier="coding",
        actor=owner,
    )
    services.rule_create(
        router=tiered_router,
        name="Hard",
        kind="calculated",
        conditions=[{"property": "complexity", "operator": "gte", "value": "medium"}],
        target_tier="deep",
        actor=owner,
    )
    router_publish(router=tiered_router, actor=owner)
    client = client_for(owner)
    assistant, _ = send(client, tiered_thread, "How do I reverse a list in Python?")
    assert assistant.routing["rule_name"] == "Code"
    assert (assistant.routing["category"], assistant.model_ref) == ("code", "demo/coder")
    decision = RoutingDecision.objects.get(message_id=assistant.pk)
    assert decision.category == "code" and decision.tier == "coding"
    assistant, _ = send(client, tiered_thread, "Translate good morning into French")
    assert assistant.routing["category"] == "translation"
    assert assistant.routing["tier"] == "balanced"  # simple: the default tier


def test_tier_commands_and_the_picker_use_the_published_tiers_not_the_draft(
    client_for, owner, tiered_router, tiered_thread
):
    # A tier added to the draft is not traffic's until it is published.
    draft = [*TIERS, {"name": "draftonly", "model": "demo/large", "fallback": "smart"}]
    services.router_set_tiers(router=tiered_router, tiers=draft, default_tier="deep", actor=owner)
    client = client_for(owner)
    page = client.get(reverse("thread", args=[tiered_thread.pk])).content.decode()
    assert "tier:draftonly" not in page
    response = client.post(
        reverse("message_create", args=[tiered_thread.pk]), {"text": "/tier draftonly"}, **HX
    )
    assert "Unknown tier &#x27;draftonly&#x27;" in response.content.decode()
    assert "balanced, smart, coding, deep." in response.content.decode()
    tiered_thread.refresh_from_db()
    assert tiered_thread.tier == ""
    note = command(client, tiered_thread, "/tier")
    assert "default tier “balanced”" in note.content  # the published default, not the draft's

    router_publish(router=tiered_router, actor=owner)
    note = command(client, tiered_thread, "/tier draftonly")
    assert "“draftonly” → demo/large" in note.content
