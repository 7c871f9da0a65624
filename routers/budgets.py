"""The planner's budget step, for chat and /v1 alike (after the policies, around routing).

1. `budget_check` (before routing): the budgets that apply to this request (its user, API
   token, workspace, router) and where each stands this period. A budget over its limit
   either refuses — before any model is called, the classifier included — or allows only
   its listed models (a `Restriction` routing honours, like a policy's).
2. Routing runs. A budget past its soft step (e.g. 80%) then *steps down*
   (`budget_step_down`): the model of the budget's step tier (e.g. `balanced`) when it names
   one and the router has a suitable model for it, else the cheapest suitable model in the
   catalog, answers as if it had been chosen; the routed chain stays behind it as fallbacks.
3. `budget_admit` reserves the request's estimated cost on every counter (see
   governance.spend: at most one request's worth past a hard limit, across processes).
4. After the answer, `budget_settle` books the actual cost — every attempt plus the
   classifier and embedding calls — and writes the spend entry.

The step that applied goes into the routing facts, hence the badge, the /v1 headers and
the decision log's reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from engine.tokens import estimate_message_tokens
from engine.types import Restriction
from governance.spend import (
    BudgetSpec,
    BudgetStatus,
    Reservation,
    budget_statuses,
    instance_zone,
    spend_reserve,
    spend_settle,
    to_micro,
)
from providers.adapters.base import ChatRequest
from routers.facts import RoutingFacts


@dataclass
class BudgetResult:
    statuses: list[BudgetStatus] = field(default_factory=list)
    step: str = ""  # "" | "step_down" | "listed" | "refused"
    governing: BudgetStatus | None = None
    restriction: Restriction | None = None
    refusal: str = ""
    retry_after: int = 0  # seconds until the refusing budget's period ends
    reservation: Reservation | None = None
    # The answer's booking id (`spend_settle` is idempotent on it), made by `booking_uid` when
    # the answer is booked, after it was sent, not while the message is planned.
    uid: str = ""
    note: str = ""
    tier: str = ""  # the tier the step went to ("" : the cheapest suitable model)

    def booking_uid(self) -> str:
        if not self.uid:
            self.uid = uuid.uuid4().hex
        return self.uid

    def routing_facts(self) -> dict[str, Any]:
        status = self.governing
        if status is None or not self.step:
            return {}
        stepped_to = f"tier {self.tier}" if self.tier else "cheapest suitable model"
        labels = {
            "step_down": f"over {status.spec.step_percent}%: {stepped_to}",
            "listed": "over its limit: listed models only",
            "refused": "limit reached: refused",
        }
        return {
            "budget": {
                "budget_id": status.spec.id,
                "name": status.spec.name,
                "step": self.step,
                "step_label": labels[self.step],
                "percent": status.percent,
                "reason": status.describe() + (f" — {self.note}" if self.note else ""),
            }
        }

    @property
    def summary(self) -> str:
        facts = self.routing_facts().get("budget")
        return f'budget "{facts["name"]}" ({facts["step_label"]})' if facts else ""


def _refusal(status: BudgetStatus, now: datetime) -> tuple[str, int]:
    ends = status.end.astimezone(instance_zone())
    retry_after = max(1, int((status.end - now).total_seconds()))
    return (
        f"{status.describe()}: the limit is reached, so this message was not sent. "
        f"It resets {ends:%Y-%m-%d %H:%M} ({ends.tzname()}); ask an admin or manager to raise it.",
        retry_after,
    )


async def budget_check(
    specs: Iterable[BudgetSpec],
    *,
    now: datetime,
    user_id: int | None,
    token_id: int | None = None,
    workspace_id: int | None = None,
    router_id: int | None = None,
) -> BudgetResult:
    applicable = [
        s
        for s in specs
        if s.applies(
            user_id=user_id, token_id=token_id, workspace_id=workspace_id, router_id=router_id
        )
    ]
    if not applicable:
        return BudgetResult()
    statuses = await budget_statuses(applicable, now)
    result = BudgetResult(statuses=statuses)
    over = [s for s in statuses if s.over]
    refusing = [s for s in over if s.spec.over_action == "refuse"]
    if refusing:
        result.step, result.governing = "refused", refusing[0]
        result.refusal, result.retry_after = _refusal(refusing[0], now)
        return result
    if over:
        allowed: tuple[str, ...] | None = None
        for status in over:
            listed = status.spec.allowed
            allowed = listed if allowed is None else tuple(r for r in allowed if r in listed)
        names = " and ".join(f'"{s.spec.name}"' for s in over)
        result.step, result.governing = "listed", over[0]
        result.restriction = Restriction(
            allowed or (), f"budget {names} (over its limit: listed models only)"
        )
        return result
    stepped = [s for s in statuses if s.stepped]
    if stepped:
        result.step, result.governing = "step_down", stepped[0]
    return result


def restriction_merge(first: Restriction | None, second: Restriction | None) -> Restriction | None:
    """Both must allow a model (a policy's approved list and a budget's listed models)."""
    if first is None or second is None:
        return first or second
    return Restriction(
        tuple(ref for ref in first.models if ref in second.models),
        f"{first.label} and {second.label}",
    )


def _price(model: Any) -> Decimal:
    return Decimal(model.input_price_per_m) + Decimal(model.output_price_per_m)


def request_input_tokens(request: ChatRequest) -> int:
    tokens = sum(estimate_message_tokens(m.text, len(m.images)) for m in request.messages)
    return tokens + (estimate_message_tokens(request.system) if request.system else 0)


def budget_step_down(
    refs: list[str],
    catalog: Mapping[str, Any],
    *,
    result: BudgetResult,
    restriction: Restriction | None,
    request: ChatRequest,
    tier_model: Callable[[str], str | None] | None = None,
) -> list[str]:
    """The step's model first, then the routed chain: the model the router binds to the
    budget's step tier (`tier_model(name)`, following the tier's fallbacks) when it names one
    and that model is suitable, else the cheapest suitable enabled model. Suitable: allowed by
    any restriction, takes images when the request has one, and its context window fits."""
    if result.step != "step_down" or not refs:
        return refs
    has_image = any(m.images for m in request.messages)
    tokens = request_input_tokens(request)

    def fits(m: Any) -> bool:
        return (
            (restriction is None or m.ref in restriction.models)
            and (m.supports_images or not has_image)
            and m.context_window >= tokens
        )

    tier = result.governing.spec.step_tier if result.governing is not None else ""
    why_not = ""
    if tier:
        ref = tier_model(tier) if tier_model is not None else None
        model = catalog.get(ref) if ref else None
        if model is not None and fits(model):
            result.tier = tier
            result.note = f"stepped down to tier {tier}, {model.ref}"
            return [model.ref, *(r for r in refs if r != model.ref)]
        if tier_model is None:
            why_not = f"no router to take tier {tier}"
        elif model is None:
            why_not = f"the router has no model for tier {tier}"
        else:
            why_not = f"tier {tier}'s model {model.ref} does not suit this message"
    suitable = [m for m in catalog.values() if fits(m)]
    if not suitable:
        return refs
    cheapest = min(suitable, key=lambda m: (_price(m), m.ref))
    result.note = f"stepped down to the cheapest suitable model, {cheapest.ref}"
    if why_not:
        result.note = f"{why_not}: {result.note}"
    return [cheapest.ref, *(ref for ref in refs if ref != cheapest.ref)]


def estimate_cost(refs: Iterable[str], catalog: Mapping[str, Any], request: ChatRequest) -> int:
    """Micro-dollars the answer may cost: the dearest model of the chain at the request's
    estimated input and `max_tokens` (else BUDGET_OUTPUT_ESTIMATE) output tokens."""
    tokens_in = request_input_tokens(request)
    tokens_out = request.max_tokens or settings.BUDGET_OUTPUT_ESTIMATE
    costs = [catalog[ref].cost(tokens_in, tokens_out) for ref in refs if ref in catalog]
    return to_micro(max(costs, default=Decimal("0")))


async def budget_admit(
    result: BudgetResult,
    refs: list[str],
    catalog: Mapping[str, Any],
    request: ChatRequest,
    now: datetime,
) -> None:
    """Reserve the estimate; sets `result.refusal` when a concurrent request used the rest."""
    if not result.statuses or not refs:
        return
    reservation, refused = await spend_reserve(
        result.statuses, estimate_cost(refs, catalog, request), now
    )
    if refused is not None:
        result.step, result.governing = "refused", refused
        result.refusal, result.retry_after = _refusal(refused, now)
        return
    result.reservation = reservation


def classifier_cost(facts: RoutingFacts, router: Any, catalog: Mapping[str, Any]) -> Decimal:
    """What the classifier call of this decision cost (nothing when cached or not made)."""
    classifier = facts.classifier or {}
    if not facts.classifier_called or router is None:
        return Decimal("0")
    model = router.classifier_model or router.primary_model
    row = catalog.get(model.ref) if model is not None else None
    if row is None:
        return Decimal("0")
    return Decimal(
        row.cost(classifier.get("input_tokens", 0) or 0, classifier.get("output_tokens", 0) or 0)
    )


def embedding_cost(facts: RoutingFacts) -> Decimal:
    """What the embedding calls for semantic rules cost this answer (the message, and the
    router's examples when this message embedded them; nothing when cached or local)."""
    embedding = facts.embedding or {}
    try:
        return Decimal(str(embedding.get("cost") or "0"))
    except ArithmeticError:
        return Decimal("0")


def routing_calls_cost(facts: RoutingFacts, router: Any, catalog: Mapping[str, Any]) -> Decimal:
    """What routing itself spent on models for this answer: the classifier and embedding calls."""
    return classifier_cost(facts, router, catalog) + embedding_cost(facts)


def budget_settle(
    result: BudgetResult | None,
    *,
    cost: Decimal,
    created_at: datetime,
    user_id: int | None,
    workspace_id: int | None = None,
    token_id: int | None = None,
    router_id: int | None = None,
    channel: str = "chat",
) -> None:
    """Book the answer's cost (synchronous). Every answer is booked, budget or not, so a
    budget created later counts what was spent earlier in its period."""
    if cost <= 0 and (result is None or result.reservation is None):
        return
    spend_settle(
        result.reservation if result else None,
        uid=result.booking_uid() if result else uuid.uuid4().hex,
        cost=cost,
        created_at=created_at,
        user_id=user_id,
        workspace_id=workspace_id,
        token_id=token_id,
        router_id=router_id,
        channel=channel,
    )
