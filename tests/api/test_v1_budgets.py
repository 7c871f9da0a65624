"""Budgets on `/v1`: 429 in OpenAI's shape with retry-after, the step in the headers, per
API token, every call booked."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import unquote

import openai
import pytest
from django.utils import timezone

from accounts.models import ApiToken
from decisions.models import RoutingDecision
from governance.models import Budget, SpendEntry
from tests.api.conftest import wait_for


@pytest.fixture
def token(owner, token_for):
    return token_for(owner, name="ci")


@pytest.fixture
def client(live_url, token):
    return openai.OpenAI(base_url=f"{live_url}/v1", api_key=token, max_retries=0, timeout=10)


def token_budget(owner, **fields):
    fields.setdefault("limit", Decimal("1"))
    return Budget.objects.create(
        name="CI token",
        scope="token",
        token=ApiToken.objects.get(user=owner, name="ci"),
        period="day",
        **fields,
    )


def spend(budget, amount):
    SpendEntry.objects.create(
        uid=f"seed-{budget.pk}",
        created_at=timezone.now(),
        cost=Decimal(amount),
        token_id=budget.token_id,
        user_id=budget.token.user_id,
    )


def test_an_exhausted_budget_is_a_429_in_openais_shape_with_retry_after(
    client, owner, fake_router, fake_upstream
):
    spend(token_budget(owner), "1.00")
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="router:fake-router", messages=[{"role": "user", "content": "hi"}]
        )
    error = caught.value
    assert error.body["code"] == "budget_exceeded"
    assert error.body["type"] == "insufficient_quota"
    assert 'Budget "CI token": $1.00 of $1.00 today (100%)' in error.body["message"]
    now = timezone.localtime()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0) + timezone.timedelta(days=1)
    retry_after = int(error.response.headers["retry-after"])
    assert abs(retry_after - (midnight - now).total_seconds()) < 120
    assert fake_upstream.requests == []
    # Logged as the chat logs a refused message: what refused, no attempt, no success.
    decision = wait_for(lambda: RoutingDecision.objects.filter(channel="api").first())
    assert decision.source == "budget"
    assert decision.budget == "CI token"
    assert not decision.succeeded
    assert decision.attempts == []
    assert decision.answered_by == ""


def test_another_token_of_the_same_user_is_not_bound(
    live_url, owner, token_for, token, fake_router, fake_upstream
):
    spend(token_budget(owner), "1.00")
    other = openai.OpenAI(
        base_url=f"{live_url}/v1", api_key=token_for(owner, name="other"), max_retries=0
    )
    reply = other.chat.completions.create(
        model="router:fake-router", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.model == "fake/fake-small"


def test_the_step_down_shows_in_the_headers(client, owner, fake_router, fake_upstream):
    spend(token_budget(owner, step_percent=50), "0.60")
    raw = client.chat.completions.with_raw_response.create(
        model="router:fake-router",
        messages=[{"role": "user", "content": "my python code fails"}],  # rule → fake-large
    )
    assert raw.parse().model == "fake/fake-small"
    assert raw.headers["x-routerweb-budget"] == "CI token; step=step_down; used=60%25"


def test_the_budget_header_encodes_percent_signs_separators_and_non_ascii(
    client, owner, fake_router, fake_upstream
):
    budget = token_budget(owner, step_percent=50)
    budget.name = "50% R&D; café=ok"
    budget.save()
    spend(budget, "0.60")
    raw = client.chat.completions.with_raw_response.create(
        model="router:fake-router", messages=[{"role": "user", "content": "hi"}]
    )
    header = raw.headers["x-routerweb-budget"]
    assert header == "50%25 R&D%3B caf%C3%A9%3Dok; step=step_down; used=60%25"
    fields = [unquote(field) for field in header.split("; ")]
    assert fields == ["50% R&D; café=ok", "step=step_down", "used=60%"]


def test_every_call_is_booked_against_the_token(client, owner, fake_router, fake_upstream):
    budget = token_budget(owner)
    client.chat.completions.create(
        model="router:fake-router", messages=[{"role": "user", "content": "hi"}]
    )
    entry = wait_for(lambda: SpendEntry.objects.filter(token_id=budget.token_id).first())
    assert entry is not None and entry.cost > 0 and entry.channel == "api"


def test_the_embedding_call_is_booked_with_the_answer(client, owner, fake_router, fake_upstream):
    from providers.models import CatalogModel
    from routers import services, versions
    from routers.semantic import clear_caches

    clear_caches()
    CatalogModel.objects.create(
        provider=CatalogModel.objects.get(model_id="fake-small").provider,
        model_id="emb-fake",
        display_name="Emb",
        kind="embedding",
        dimensions=64,
        context_window=8000,
        input_price_per_m="1000.00",
        output_price_per_m="0",
    )
    fake_router.embedding_model = "fake/emb-fake"
    fake_router.save()
    services.rule_create(
        router=fake_router,
        name="Billing",
        kind="semantic",
        examples=["refund my order", "I was charged twice"],
        threshold=0.99,
        target_model="fake/fake-large",
        actor=owner,
    )
    versions.router_publish(router=fake_router, actor=owner)  # traffic routes with it
    budget = token_budget(owner)
    reply = client.chat.completions.create(
        model="router:fake-router", messages=[{"role": "user", "content": "where is my parcel"}]
    )
    entry = wait_for(lambda: SpendEntry.objects.filter(token_id=budget.token_id).first())
    assert reply.usage is not None
    answer = Decimal(reply.usage.prompt_tokens) * 1 + Decimal(reply.usage.completion_tokens) * 2
    # The fake upstream counts words as tokens: 7 for the examples, 4 for the message.
    embeddings = Decimal("1000.00") * (7 + 4)
    assert entry.cost == ((answer + embeddings) / 1_000_000).quantize(Decimal("0.000001"))
    clear_caches()
