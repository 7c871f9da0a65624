"""Budgets in the chat: step-down past the soft step, refusal or listed models past the
limit, every answer booked (classifier included) — checked at the fake upstream."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from chat.models import Message, MessageStatus, Thread, Workspace
from decisions.models import RoutingDecision
from governance.models import Budget, SpendEntry
from routers import services
from routers.versions import router_publish
from tests.chat.streaming import sse_events


@pytest.fixture(autouse=True)
def _capture(django_capture_on_commit_callbacks):
    global _on_commit
    _on_commit = django_capture_on_commit_callbacks
    yield


_on_commit = None


@pytest.fixture
def priced(fake_provider):
    """backup is dear, cheap is cheap, vision in between."""
    _, models = fake_provider
    for name, (price_in, price_out) in {
        "cheap": ("0.10", "0.20"),
        "backup": ("10.00", "30.00"),
        "vision": ("1.00", "2.00"),
    }.items():
        models[name].input_price_per_m = Decimal(price_in)
        models[name].output_price_per_m = Decimal(price_out)
        models[name].save()
    return models


@pytest.fixture
def thread(owner, priced):
    router = services.router_create(
        owner=owner, name="Team", slug="team", primary_model="fake/backup", actor=owner
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


def team_budget(thread, **fields):
    fields.setdefault("limit", Decimal("10"))
    return Budget.objects.create(
        name="Team monthly",
        scope="workspace",
        workspace_id=thread.workspace_id,
        period="month",
        **fields,
    )


def spent(thread, amount):
    SpendEntry.objects.create(
        uid=f"seed-{amount}",
        created_at=timezone.now(),
        cost=Decimal(amount),
        workspace_id=thread.workspace_id,
        user_id=thread.owner_id,
    )


def test_under_the_soft_step_routing_is_unchanged_and_the_answer_is_booked(
    client_for, owner, thread, fake_upstream
):
    team_budget(thread, step_percent=80)
    assistant, _ = send(client_for(owner), thread, "hello")
    assert assistant.model_ref == "fake/backup"
    assert "budget" not in assistant.routing
    entry = SpendEntry.objects.get()
    assert entry.cost == assistant.cost > 0
    assert entry.workspace_id == thread.workspace_id and entry.user_id == owner.pk


def test_past_the_soft_step_the_cheapest_suitable_model_answers_and_the_badge_says_so(
    client_for, owner, thread, fake_upstream
):
    team_budget(thread, step_percent=80)
    spent(thread, "8.50")
    client = client_for(owner)
    assistant, events = send(client, thread, "hello")
    assert assistant.model_ref == "fake/cheap"
    assert [r.model for r in fake_upstream.requests] == ["cheap"]
    budget = assistant.routing["budget"]
    assert budget["step"] == "step_down" and budget["percent"] == 85
    assert "stepped down to the cheapest suitable model, fake/cheap" in assistant.routing["reason"]
    page = client.get(reverse("thread", args=[thread.pk])).content.decode()
    assert "budget “Team monthly”: over 80%: cheapest suitable model" in page
    decision = RoutingDecision.objects.get(message_id=assistant.pk)
    assert 'Budget "Team monthly"' in decision.reason
    assert (decision.budget, decision.budget_step) == ("Team monthly", "step_down")


def test_past_the_soft_step_a_budget_may_route_as_if_its_tier_were_chosen(
    client_for, owner, thread, fake_upstream
):
    router = thread.workspace.router
    services.router_set_tiers(
        router=router,
        tiers=[
            {"name": "balanced", "model": "fake/vision"},  # not the cheapest: fake/cheap is
            {"name": "smart", "model": "fake/backup", "fallback": "balanced"},
            {"name": "quick", "model": "", "fallback": ""},
        ],
        actor=owner,
    )
    router_publish(router=router, actor=owner)
    budget = team_budget(thread, step_percent=80, step_tier="balanced")
    spent(thread, "8.50")
    client = client_for(owner)
    assistant, _ = send(client, thread, "hello")
    assert assistant.model_ref == "fake/vision"
    assert [r.model for r in fake_upstream.requests] == ["vision"]
    assert assistant.routing["budget"]["step_label"] == "over 80%: tier balanced"
    assert "stepped down to tier balanced, fake/vision" in assistant.routing["reason"]
    page = client.get(reverse("thread", args=[thread.pk])).content.decode()
    assert "budget “Team monthly”: over 80%: tier balanced" in page

    # A tier with no model anywhere down its ladder: the cheapest suitable model, and why.
    budget.step_tier = "quick"
    budget.save()
    assistant, _ = send(client, thread, "hello again")
    assert assistant.model_ref == "fake/cheap"
    assert (
        "the router has no model for tier quick: stepped down to the cheapest"
        in (assistant.routing["reason"])
    )


def test_an_exhausted_budget_refuses_cleanly_before_any_model_call(
    client_for, owner, thread, fake_upstream
):
    team_budget(thread, step_percent=80)
    spent(thread, "10.00")
    assistant, _ = send(client_for(owner), thread, "hello")
    assert assistant.status == MessageStatus.ERROR
    assert 'Budget "Team monthly": $10.00 of $10.00 this month (100%)' in assistant.error
    assert "the limit is reached" in assistant.error and "It resets" in assistant.error
    assert fake_upstream.requests == []
    decision = RoutingDecision.objects.get(message_id=assistant.pk)
    assert (decision.source, decision.succeeded) == ("budget", False)
    assert (decision.budget, decision.budget_step) == ("Team monthly", "refused")
    assert Message.objects.filter(thread=thread, role="user").count() == 1


def test_over_the_limit_a_budget_may_allow_only_listed_models(
    client_for, owner, thread, fake_upstream
):
    team_budget(thread, over_action="listed", allowed=["fake/vision"])
    spent(thread, "12")
    assistant, _ = send(client_for(owner), thread, "hello")
    assert assistant.model_ref == "fake/vision"
    assert assistant.routing["budget"]["step"] == "listed"
    assert 'not approved by budget "Team monthly"' in assistant.routing["reason"]


def test_a_personal_budget_binds_its_owner_only(client_for, owner, teammate, thread):
    Budget.objects.create(
        name="Tom's", scope="user", user=teammate, period="day", limit=Decimal("0.000001")
    )
    SpendEntry.objects.create(
        uid="t", created_at=timezone.now(), cost=Decimal("1"), user_id=teammate.pk
    )
    assistant, _ = send(client_for(owner), thread, "hello")
    assert assistant.status == MessageStatus.COMPLETE


def test_the_classifier_call_is_booked_too(client_for, owner, thread, fake_upstream):
    router = thread.workspace.router
    services.rule_create(
        router=router,
        name="Legal",
        kind="llm",
        description="contracts",
        target_model="fake/cheap",
        actor=router.owner,
    )
    router_publish(router=router, actor=router.owner)
    fake_upstream.script(
        "backup", times=1, reply="r1", usage={"input_tokens": 1000, "output_tokens": 0}
    )
    assistant, _ = send(client_for(owner), thread, "is this contract ok?")
    assert assistant.routing["classifier_called"]
    classifier = Decimal("10.00") * 1000 / 1_000_000  # backup judges: 1,000 tokens in
    assert SpendEntry.objects.get().cost == assistant.cost + classifier


def test_the_embedding_calls_are_booked_at_the_embedding_models_price(
    client_for, owner, thread, fake_upstream
):
    from providers.models import CatalogModel
    from routers.semantic import clear_caches

    clear_caches()
    fake = CatalogModel.objects.get(model_id="cheap").provider
    CatalogModel.objects.create(
        provider=fake,
        model_id="emb-fake",
        display_name="Emb",
        kind="embedding",
        dimensions=64,
        context_window=8000,
        input_price_per_m="1000.00",  # dear, so a few tokens show in micro-dollars
        output_price_per_m="0",
    )
    router = thread.workspace.router
    router.embedding_model = "fake/emb-fake"
    router.save()
    examples = ["refund my order", "I was charged twice", "cancel my invoice"]
    services.rule_create(
        router=router,
        name="Billing",
        kind="semantic",
        examples=examples,
        threshold=0.99,  # never matches: the primary answers, and the embedding is still paid
        target_model="fake/cheap",
        actor=router.owner,
    )
    router_publish(router=router, actor=router.owner)  # traffic routes with the published
    client = client_for(owner)

    # The fake upstream counts a text's words as its tokens.
    first, _ = send(client, thread, "where is my parcel today")
    example_tokens = sum(len(e.split()) for e in examples)
    assert first.routing["embedding"]["input_tokens"] == example_tokens + 5
    price = Decimal("1000.00") / 1_000_000
    entries = SpendEntry.objects.order_by("id")
    assert entries.last().cost == first.cost + price * (example_tokens + 5)

    # The examples are embedded once per router version: the next message pays for itself only.
    second, _ = send(client, thread, "what is the weather like now")
    assert second.routing["embedding"]["input_tokens"] == 6
    assert entries.last().cost == second.cost + price * 6
    embeds = [r for r in fake_upstream.requests if r.model == "emb-fake"]
    assert len(embeds) == 3
    clear_caches()


def test_a_person_over_their_requests_per_minute_is_told_to_wait(
    client_for, owner, thread, fake_upstream, settings
):
    from routerweb import clock as clocks
    from tests.fakeclock import FakeClock

    settings.RATE_LIMIT_USER_RPM = 1
    clocks.install(FakeClock(start=1_800_000_000.0))  # both messages in one minute's window
    client = client_for(owner)
    first, _ = send(client, thread, "hello")
    second, _ = send(client, thread, "again")
    assert first.status == MessageStatus.COMPLETE
    assert second.status == MessageStatus.ERROR
    clocks.install(None)
    assert second.error.startswith("Too many requests: at most 1 per minute per person.")
    assert len(fake_upstream.requests) == 1
