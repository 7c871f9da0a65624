"""Reads for a router's analytics page and its CSV export.

Everything is grouped by the calendar day in the router's own time zone, so "Tuesday" means
the same thing on the chart as in the rules ("on weekdays after 18:00"). The page costs a fixed
handful of queries whatever the range: one aggregate for the totals, one grouped by day and
route, one grouped by day and model, one grouped by tier, category and complexity, one for
the classifier latencies (percentiles are computed
in Python from the values, which behaves the same on SQLite and PostgreSQL). Days without
traffic are filled with zeros so the charts keep a continuous x axis.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from decisions.models import RoutingDecision
from routers.models import Router

DEFAULT_DAYS = 30
MAX_DAYS = 366
# Stacked bars stop being readable beyond this many colours; the rest are summed as "Other".
MAX_SERIES = 8
OTHER = "Other"
ZERO = Decimal("0")

PRIMARY_LABEL = "Primary (no rule matched)"
NO_TIER_LABEL = "No tier"
OVERRIDE_LABEL = "Manual override"


# --- date range ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date
    error: str = ""

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def router_time_zone(*, router: Router) -> tzinfo:
    try:
        return ZoneInfo(router.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):  # a stored zone since removed from tzdata
        return ZoneInfo("UTC")


def analytics_range_default(*, today: date) -> DateRange:
    return DateRange(start=today - timedelta(days=DEFAULT_DAYS - 1), end=today)


def analytics_range_parse(*, start: str | None, end: str | None, today: date) -> DateRange:
    """The inclusive range asked for in the query string, or the default with a reason why not.

    Both blank is the default without complaint; one blank takes its default side.
    """
    default = analytics_range_default(today=today)
    start, end = (start or "").strip(), (end or "").strip()
    if not start and not end:
        return default
    try:
        start_date = date.fromisoformat(start) if start else None
        end_date = date.fromisoformat(end) if end else today
    except ValueError:
        return _fallback(default, "Dates must look like 2025-01-31.")
    # Near year 1 or 9999, day arithmetic and time zones overflow; no decision is logged there.
    if not all(1970 <= d.year <= 9998 for d in (start_date, end_date) if d is not None):
        return _fallback(default, "Dates must be between 1970 and 9998.")
    if start_date is None:
        start_date = end_date - timedelta(days=DEFAULT_DAYS - 1)
    if start_date > end_date:
        return _fallback(default, "The start date must be on or before the end date.")
    if (end_date - start_date).days + 1 > MAX_DAYS:
        return _fallback(default, f"A range can cover at most {MAX_DAYS} days.")
    return DateRange(start=start_date, end=end_date)


def _fallback(default: DateRange, reason: str) -> DateRange:
    return DateRange(
        start=default.start,
        end=default.end,
        error=f"{reason} Showing the last {DEFAULT_DAYS} days instead.",
    )


def _bounds(start: date, end: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """[midnight of start, midnight after end) in the router's zone: inclusive of both days."""
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def router_decisions_in_range(
    *, router: Router, start: date, end: date, tz: tzinfo
) -> QuerySet[RoutingDecision]:
    lower, upper = _bounds(start, end, tz)
    return RoutingDecision.objects.filter(
        router=router, created_at__gte=lower, created_at__lt=upper
    )


# --- labels and statistics -----------------------------------------------------------------


def route_label(*, source: str, rule_name: str) -> str:
    """How a decision was routed, in words: the rule's name, or why no rule decided."""
    if source == "rule":
        return rule_name or "(deleted rule)"
    if source == "sticky":
        return f"Sticky: {rule_name}" if rule_name else "Sticky"
    if source == "primary":
        return PRIMARY_LABEL
    if source == "override":
        return OVERRIDE_LABEL
    return source.capitalize() if source else "(unknown)"


def model_label(answered_by: str) -> str:
    return answered_by or "(no answer)"


def percentile(values: Iterable[float], pct: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least pct% of values at or below it."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# --- the page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    label: str
    values: list[int]

    @property
    def total(self) -> int:
        return sum(self.values)


@dataclass(frozen=True)
class Breakdown:
    """One row of the per-rule (or per-model) table."""

    label: str
    messages: int
    share: float
    cost: Decimal
    primary_cost: Decimal

    @property
    def saving(self) -> Decimal:
        return self.primary_cost - self.cost


@dataclass(frozen=True)
class Analytics:
    router: Router
    start: date
    end: date
    days: list[date]
    messages: int
    cost: Decimal
    primary_cost: Decimal
    classifier_calls: int
    classifier_p50_ms: float | None
    classifier_p95_ms: float | None
    fallbacks: int
    overrides: int
    failures: int
    by_rule: list[Breakdown]
    by_model: list[Breakdown]
    rule_series: list[Series]
    model_series: list[Series]
    daily_cost: list[Decimal]
    daily_primary_cost: list[Decimal]
    # Per tier ("No tier" when none was involved) and per category × complexity (only the
    # messages the classifier judged).
    by_tier: list[Breakdown] = field(default_factory=list)
    by_category: list[Breakdown] = field(default_factory=list)
    # Per profile (only messages a profile rule routed), and per data policy and budget step
    # (only messages one applied to; a message two policies applied to counts for each).
    by_profile: list[Breakdown] = field(default_factory=list)
    by_control: list[Breakdown] = field(default_factory=list)
    cumulative_cost: list[Decimal] = field(init=False)
    cumulative_primary_cost: list[Decimal] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cumulative_cost", _cumulative(self.daily_cost))
        object.__setattr__(self, "cumulative_primary_cost", _cumulative(self.daily_primary_cost))

    @property
    def saving(self) -> Decimal:
        return self.primary_cost - self.cost

    @property
    def saving_pct(self) -> float | None:
        """Share of the primary-only cost that routing saved (negative when it cost more)."""
        return float(self.saving / self.primary_cost * 100) if self.primary_cost else None

    @property
    def cost_ratio(self) -> float | None:
        """Actual cost as a multiple of the primary-only cost (shown when routing cost more)."""
        return float(self.cost / self.primary_cost) if self.primary_cost else None

    @property
    def messages_per_day(self) -> float:
        return self.messages / len(self.days) if self.days else 0.0

    @property
    def classifier_rate(self) -> float | None:
        return _rate(self.classifier_calls, self.messages)

    @property
    def fallback_rate(self) -> float | None:
        return _rate(self.fallbacks, self.messages)

    @property
    def override_rate(self) -> float | None:
        return _rate(self.overrides, self.messages)

    @property
    def failure_rate(self) -> float | None:
        return _rate(self.failures, self.messages)

    def chart_data(self) -> dict[str, Any]:
        """Plain JSON for `json_script`: what static/js/analytics.js draws."""
        return {
            "days": [d.isoformat() for d in self.days],
            "rules": [{"label": s.label, "values": s.values} for s in self.rule_series],
            "models": [{"label": s.label, "values": s.values} for s in self.model_series],
            "cost": {
                "actual": [float(v) for v in self.cumulative_cost],
                "primary": [float(v) for v in self.cumulative_primary_cost],
                "daily_actual": [float(v) for v in self.daily_cost],
                "daily_primary": [float(v) for v in self.daily_primary_cost],
            },
        }


def _cumulative(values: list[Decimal]) -> list[Decimal]:
    total, out = ZERO, []
    for value in values:
        total += value
        out.append(total)
    return out


def router_analytics(*, router: Router, start: date, end: date, tz: tzinfo) -> Analytics:
    decisions = router_decisions_in_range(router=router, start=start, end=end, tz=tz)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    index = {d: i for i, d in enumerate(days)}

    totals = decisions.aggregate(
        messages=Count("id"),
        classifier_calls=Count("id", filter=Q(classifier_called=True)),
        fallbacks=Count("id", filter=Q(fallback_used=True)),
        overrides=Count("id", filter=Q(overridden=True)),
        failures=Count("id", filter=Q(succeeded=False)),
    )

    day = TruncDate("created_at", tzinfo=tz)
    by_route = (
        decisions.annotate(day=day)
        .values("day", "source", "rule_name")
        .annotate(n=Count("id"), cost=Sum("cost"), primary_cost=Sum("primary_cost"))
        .order_by()
    )
    by_model = (
        decisions.annotate(day=day)
        .values("day", "answered_by")
        .annotate(n=Count("id"), cost=Sum("cost"), primary_cost=Sum("primary_cost"))
        .order_by()
    )
    by_judgement = (
        decisions.values(
            "tier",
            "category",
            "complexity",
            "profile",
            "policy",
            "policy_action",
            "budget",
            "budget_step",
        )
        .annotate(n=Count("id"), cost=Sum("cost"), primary_cost=Sum("primary_cost"))
        .order_by()
    )
    # Not None: the filter excludes rows without a latency.
    latencies = cast(
        list[float],
        list(
            decisions.filter(classifier_called=True, classifier_latency_ms__isnull=False)
            .order_by()
            .values_list("classifier_latency_ms", flat=True)
        ),
    )

    daily_cost = [ZERO] * len(days)
    daily_primary = [ZERO] * len(days)
    rule_counts: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    rule_costs: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for row in by_route:
        i = index.get(_as_date(row["day"]))
        if i is None:  # cannot happen with the bounds above; a guard against zone edge cases
            continue
        label = route_label(source=row["source"], rule_name=row["rule_name"])
        cost, primary = _money(row["cost"]), _money(row["primary_cost"])
        rule_counts[label][i] += row["n"]
        rule_costs[label][0] += cost
        rule_costs[label][1] += primary
        daily_cost[i] += cost
        daily_primary[i] += primary

    model_counts: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    model_costs: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for model_row in by_model:
        i = index.get(_as_date(model_row["day"]))
        if i is None:
            continue
        label = model_label(model_row["answered_by"])
        model_counts[label][i] += model_row["n"]
        model_costs[label][0] += _money(model_row["cost"])
        model_costs[label][1] += _money(model_row["primary_cost"])

    tier_counts: dict[str, list[int]] = defaultdict(lambda: [0])
    tier_costs: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    category_counts: dict[str, list[int]] = defaultdict(lambda: [0])
    category_costs: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    profile_counts: dict[str, list[int]] = defaultdict(lambda: [0])
    profile_costs: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    control_counts: dict[str, list[int]] = defaultdict(lambda: [0])
    control_costs: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    judged = 0
    for judgement in by_judgement:
        cost, primary = _money(judgement["cost"]), _money(judgement["primary_cost"])
        for label in control_labels(judgement):
            control_counts[label][0] += judgement["n"]
            control_costs[label][0] += cost
            control_costs[label][1] += primary
        if judgement["profile"]:
            label = f"profile “{judgement['profile']}”"
            profile_counts[label][0] += judgement["n"]
            profile_costs[label][0] += cost
            profile_costs[label][1] += primary
        label = judgement["tier"] or NO_TIER_LABEL
        tier_counts[label][0] += judgement["n"]
        tier_costs[label][0] += cost
        tier_costs[label][1] += primary
        if judgement["category"] or judgement["complexity"]:
            label = f"{judgement['category'] or '?'} × {judgement['complexity'] or '?'}"
            category_counts[label][0] += judgement["n"]
            category_costs[label][0] += cost
            category_costs[label][1] += primary
            judged += judgement["n"]

    messages = totals["messages"]
    return Analytics(
        router=router,
        start=start,
        end=end,
        days=days,
        messages=messages,
        cost=sum(daily_cost, ZERO),
        primary_cost=sum(daily_primary, ZERO),
        classifier_calls=totals["classifier_calls"],
        classifier_p50_ms=percentile(latencies, 50),
        classifier_p95_ms=percentile(latencies, 95),
        fallbacks=totals["fallbacks"],
        overrides=totals["overrides"],
        failures=totals["failures"],
        by_rule=_breakdown(rule_counts, rule_costs, messages),
        by_model=_breakdown(model_counts, model_costs, messages),
        rule_series=_top_series(rule_counts),
        model_series=_top_series(model_counts),
        daily_cost=daily_cost,
        daily_primary_cost=daily_primary,
        by_tier=_breakdown(tier_counts, tier_costs, messages),
        by_category=_breakdown(category_counts, category_costs, judged),
        by_profile=_breakdown(profile_counts, profile_costs, messages),
        by_control=_breakdown(control_counts, control_costs, messages),
    )


BUDGET_STEP_LABELS = {
    "step_down": "stepped down",
    "listed": "listed models only",
    "refused": "refused",
}


def control_labels(row: Mapping[str, Any]) -> list[str]:
    """The analytics labels of a logged decision's policies and budget step: `policy
    “Customer data” (restrict)`, `budget “Team” stepped down`."""
    labels = []
    action = row.get("policy_action") or ""
    for name in filter(None, (row.get("policy") or "").split(", ")):
        labels.append(f"policy “{name}”" + (f" ({action})" if action else ""))
    if row.get("budget_step"):
        step = BUDGET_STEP_LABELS.get(row["budget_step"], row["budget_step"])
        labels.append(f"budget “{row.get('budget') or '?'}” {step}")
    return labels


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _money(value: Decimal | float | None) -> Decimal:
    # SQLite may hand back a float-ish sum; six places is the column's precision.
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(Decimal("0.000001"))


def _breakdown(
    counts: dict[str, list[int]], costs: dict[str, list[Decimal]], messages: int
) -> list[Breakdown]:
    rows = [
        Breakdown(
            label=label,
            messages=sum(per_day),
            share=sum(per_day) / messages if messages else 0.0,
            cost=costs[label][0],
            primary_cost=costs[label][1],
        )
        for label, per_day in counts.items()
    ]
    return sorted(rows, key=lambda r: (-r.messages, r.label))


def _top_series(counts: dict[str, list[int]]) -> list[Series]:
    """Largest first; beyond MAX_SERIES the tail is summed into one "Other" series."""
    series = sorted(
        (Series(label, values) for label, values in counts.items()),
        key=lambda s: (-s.total, s.label),
    )
    if len(series) <= MAX_SERIES:
        return series
    head, tail = series[: MAX_SERIES - 1], series[MAX_SERIES - 1 :]
    other = [sum(values) for values in zip(*(s.values for s in tail), strict=True)]
    return [*head, Series(OTHER, other)]


# --- CSV -----------------------------------------------------------------------------------

# (CSV column, RoutingDecision field), in file order.
_CSV_COLUMNS = [
    ("created_at", "created_at"),
    ("channel", "channel"),
    ("rule", "rule_name"),
    ("source", "source"),
    ("model_ref", "model_ref"),
    ("answered_by", "answered_by"),
    ("input_tokens", "input_tokens"),
    ("output_tokens", "output_tokens"),
    ("cost", "cost"),
    ("primary_cost", "primary_cost"),
    ("classifier_called", "classifier_called"),
    ("classifier_latency_ms", "classifier_latency_ms"),
    ("fallback_used", "fallback_used"),
    ("overridden", "overridden"),
    ("succeeded", "succeeded"),
    ("tier", "tier"),
    ("tier_source", "tier_source"),
    ("category", "category"),
    ("complexity", "complexity"),
    ("reason", "reason"),
    # Added after "reason" so files read by position keep their columns.
    ("profile", "profile"),
    ("policy", "policy"),
    ("policy_action", "policy_action"),
    ("budget", "budget"),
    ("budget_step", "budget_step"),
]
CSV_HEADER = [column for column, _ in _CSV_COLUMNS]
_CSV_FIELDS = [field for _, field in _CSV_COLUMNS]
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def router_decision_rows(
    *, router: Router, start: date, end: date, tz: tzinfo
) -> Iterator[list[Any]]:
    """The header, then one row per decision, oldest first, read in chunks (never all at once)."""
    yield CSV_HEADER
    rows = (
        router_decisions_in_range(router=router, start=start, end=end, tz=tz)
        .order_by("created_at", "id")
        .values_list(*_CSV_FIELDS)
        .iterator(chunk_size=2000)
    )
    for row in rows:
        created_at, *rest = row
        cells = [created_at.astimezone(tz).isoformat(), *rest]
        yield [_cell(cell) for cell in cells]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return csv_safe(value)


# --- the decision log page -----------------------------------------------------------------

# The columns the log page filters on (an exact match each, except `policy`: a name among
# the comma-separated names of the policies that applied).
LOG_FILTERS = ("source", "tier", "category", "profile", "policy", "budget_step")


def router_decision_log(
    *, router: Router, start: date, end: date, tz: tzinfo, filters: dict[str, str]
) -> QuerySet[RoutingDecision]:
    """The router's logged decisions in the range, newest first, narrowed by `filters`
    (LOG_FILTERS → value; empty values are ignored)."""
    qs = router_decisions_in_range(router=router, start=start, end=end, tz=tz)
    for column in LOG_FILTERS:
        value = filters.get(column) or ""
        if not value:
            continue
        if column == "policy":
            qs = qs.filter(
                Q(policy=value)
                | Q(policy__startswith=f"{value}, ")
                | Q(policy__endswith=f", {value}")
                | Q(policy__contains=f", {value}, ")
            )
        else:
            qs = qs.filter(**{column: value})
    return qs.select_related("user").order_by("-created_at", "-id")


def router_decision_log_choices(
    *, router: Router, start: date, end: date, tz: tzinfo
) -> dict[str, list[str]]:
    """The values each filter can take in the range (what was logged), sorted."""
    qs = router_decisions_in_range(router=router, start=start, end=end, tz=tz)
    choices: dict[str, list[str]] = {}
    for column in LOG_FILTERS:
        values = set(qs.exclude(**{column: ""}).values_list(column, flat=True).distinct())
        if column == "policy":
            values = {name for joined in values for name in joined.split(", ") if name}
        choices[column] = sorted(values)
    return choices
