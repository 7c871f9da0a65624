"""A budget's soft step may route as if a tier of the router were chosen (`step_tier`), else
the cheapest suitable model answers — and the reason says which, and why not the tier."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from governance.spend import BudgetSpec, BudgetStatus
from providers.adapters.base import ChatMessage, ChatRequest
from routers.budgets import BudgetResult, budget_step_down

NOW = datetime(2026, 3, 11, 12, tzinfo=UTC)


def model(ref: str, price: str, *, images: bool = False, context: int = 100_000):
    return SimpleNamespace(
        ref=ref,
        input_price_per_m=price,
        output_price_per_m=price,
        supports_images=images,
        context_window=context,
    )


CATALOG = {
    m.ref: m
    for m in (
        model("p/cheap", "0.1"),
        model("p/balanced", "1.0"),
        model("p/dear", "10.0"),
        model("p/tiny-context", "0.5", context=10),
    )
}


def stepped(step_tier: str = "") -> BudgetResult:
    spec = BudgetSpec(
        id=1,
        name="Team monthly",
        scope="workspace",
        period="month",
        limit=10_000_000,
        step=8_000_000,
        step_percent=80,
        over_action="refuse",
        allowed=(),
        user_id=None,
        token_id=None,
        workspace_id=7,
        router_id=None,
        step_tier=step_tier,
    )
    status = BudgetStatus(spec, NOW, NOW, 8_500_000)
    return BudgetResult(statuses=[status], step="step_down", governing=status)


REQUEST = ChatRequest(model="", messages=(ChatMessage("user", "hello " * 50),))


def test_past_the_step_the_tier_s_model_answers_with_the_routed_chain_behind_it():
    result = stepped("balanced")
    refs = budget_step_down(
        ["p/dear"],
        CATALOG,
        result=result,
        restriction=None,
        request=REQUEST,
        tier_model={"balanced": "p/balanced"}.get,
    )
    assert refs == ["p/balanced", "p/dear"]
    assert result.note == "stepped down to tier balanced, p/balanced"
    assert result.routing_facts()["budget"]["step_label"] == "over 80%: tier balanced"


def test_without_a_step_tier_the_cheapest_suitable_model_answers():
    result = stepped()
    refs = budget_step_down(
        ["p/dear"], CATALOG, result=result, restriction=None, request=REQUEST, tier_model=None
    )
    assert refs == ["p/cheap", "p/dear"]
    assert result.routing_facts()["budget"]["step_label"] == "over 80%: cheapest suitable model"


def test_a_tier_the_router_cannot_serve_falls_back_to_the_cheapest_and_says_why():
    unbound = stepped("balanced")
    refs = budget_step_down(
        ["p/dear"], CATALOG, result=unbound, restriction=None, request=REQUEST, tier_model={}.get
    )
    assert refs[0] == "p/cheap"
    assert unbound.note.startswith("the router has no model for tier balanced: stepped down")

    no_router = stepped("balanced")
    budget_step_down(["p/dear"], CATALOG, result=no_router, restriction=None, request=REQUEST)
    assert no_router.note.startswith("no router to take tier balanced")

    too_small = stepped("balanced")
    refs = budget_step_down(
        ["p/dear"],
        CATALOG,
        result=too_small,
        restriction=None,
        request=REQUEST,
        tier_model={"balanced": "p/tiny-context"}.get,
    )
    assert refs[0] == "p/cheap"
    assert "tier balanced's model p/tiny-context does not suit this message" in too_small.note
    assert too_small.routing_facts()["budget"]["step_label"] == "over 80%: cheapest suitable model"
