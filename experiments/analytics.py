"""Comparing an experiment's arms: messages, cost, fallback rate, override rate, regenerate
rate and feedback, each arm's decisions being the ones logged with its arm."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum

from decisions.feedback import FeedbackRates
from decisions.models import Feedback, Rating, RoutingDecision, RoutingEvent
from experiments.models import Experiment
from experiments.significance import RateComparison

ZERO = Decimal("0")


@dataclass
class ArmStats(FeedbackRates):
    arm: str
    version: int
    percent: int
    messages: int = 0
    cost: Decimal = ZERO
    primary_cost: Decimal = ZERO
    fallbacks: int = 0
    overrides: int = 0
    regenerates: int = 0
    up: int = 0
    down: int = 0

    @property
    def cost_per_message(self) -> Decimal | None:
        return (self.cost / self.messages).quantize(Decimal("0.000001")) if self.messages else None

    @property
    def fallback_rate(self) -> float | None:
        return self.fallbacks / self.messages if self.messages else None


def _money(value: object) -> Decimal:
    return Decimal(str(value or "0")).quantize(Decimal("0.000001"))


def experiment_compare(*, experiment: Experiment) -> list[ArmStats]:
    """[control, variant]: three queries whatever the traffic."""
    arms = {
        "control": ArmStats("control", experiment.control.number, 100 - experiment.percent),
        "variant": ArmStats("variant", experiment.variant.number, experiment.percent),
    }
    decisions = RoutingDecision.objects.filter(
        router_id=experiment.router_id, experiment_id=experiment.pk
    )
    for row in (
        decisions.values("arm")
        .annotate(
            n=Count("id"),
            cost=Sum("cost"),
            primary=Sum("primary_cost"),
            fallbacks=Count("id", filter=Q(fallback_used=True)),
        )
        .order_by()
    ):
        stats = arms.get(row["arm"])
        if stats is None:
            continue
        stats.messages += row["n"]
        stats.cost += _money(row["cost"])
        stats.primary_cost += _money(row["primary"])
        stats.fallbacks += row["fallbacks"]
    # Feedback and events name the answer's version; within the experiment's time the two
    # arms' versions tell them apart.
    window = Q(router_id=experiment.router_id, created_at__gte=experiment.started_at)
    if experiment.ended_at is not None:
        window &= Q(created_at__lte=experiment.ended_at)
    by_version = {stats.version: stats for stats in arms.values()}
    for rated in (
        Feedback.objects.filter(window, router_version__in=list(by_version))
        .values("router_version", "rating")
        .annotate(n=Count("id"))
        .order_by()
    ):
        stats = by_version[rated["router_version"]]
        if rated["rating"] == Rating.UP:
            stats.up += rated["n"]
        else:
            stats.down += rated["n"]
    for event in (
        RoutingEvent.objects.filter(window, router_version__in=list(by_version))
        .values("router_version")
        .annotate(
            moved=Count("id", filter=Q(moved=True)),
            regenerated=Count("id", filter=Q(kind="regenerate")),
            sent=Count("id", filter=Q(kind="send_to")),
        )
        .order_by()
    ):
        stats = by_version[event["router_version"]]
        stats.overrides += event["moved"]
        stats.regenerates += event["regenerated"]
        stats.messages += event["sent"]  # sent elsewhere: the arm chose, no routed decision
    return [arms["control"], arms["variant"]]


def arms_significance(arms: list[ArmStats]) -> list[RateComparison]:
    """The rates people's reactions give, control against variant, each with its Wilson
    intervals and a two-proportion z-test (experiments/significance.py)."""
    control, variant = arms
    return [
        RateComparison(
            "Feedback (👍 share)",
            (control.up, control.ratings),
            (variant.up, variant.ratings),
            higher_is_better=True,
        ),
        RateComparison(
            "Override rate",
            (control.overrides, control.messages),
            (variant.overrides, variant.messages),
            higher_is_better=False,
        ),
        RateComparison(
            "Regenerate rate",
            (control.regenerates, control.messages),
            (variant.regenerates, variant.messages),
            higher_is_better=False,
        ),
        RateComparison(
            "Fallback rate",
            (control.fallbacks, control.messages),
            (variant.fallbacks, variant.messages),
            higher_is_better=False,
        ),
    ]
