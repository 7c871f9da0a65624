"""Budgets: what has been spent this period, and admitting a request without overspending.

Spend per budget and period lives in the shared cache as an integer counter of micro-dollars
(`spend:<budget id>:<period start>`), so every web process agrees and increments are atomic.
A counter the cache has lost (restart, eviction) is rebuilt from the `SpendEntry` rows, which
every answer writes — a restart loses nothing.

Admission (`spend_reserve`) adds the request's *estimated* cost to every budget's counter
first and keeps it only if the budget was below its limit *before* the addition; otherwise
the addition is undone and the request refused. So of all requests in flight at once, in any
number of processes, at most the one that crosses the limit is admitted past it: spend can
exceed a hard limit by at most one request's worth. After the answer, `spend_settle` replaces
the estimate by the actual cost (every attempt and the classifier call) and writes the entry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum

from governance.models import Budget, BudgetScope, OverAction, SpendEntry
from routerweb import shared_cache
from routerweb.db import insert_ignoring

log = logging.getLogger(__name__)

MICRO = Decimal(1_000_000)


def to_micro(amount: Decimal) -> int:
    return int((amount * MICRO).to_integral_value())


def from_micro(amount: int) -> Decimal:
    return (Decimal(amount) / MICRO).quantize(Decimal("0.000001"))


def money(amount: int, limit: int) -> str:
    """Dollars with cents, or with four decimals for budgets under a dollar."""
    places = 2 if limit >= 1_000_000 else 4
    return f"${from_micro(amount):.{places}f}"


def instance_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    # A wall-clock midnight in the zone: correct across DST changes.
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def period_bounds(period: str, now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the day, week (Monday first) or month containing `now`, in `zone`."""
    today = now.astimezone(zone).date()
    if period == "day":
        first, following = today, today + timedelta(days=1)
    elif period == "week":
        first = today - timedelta(days=today.weekday())
        following = first + timedelta(days=7)
    elif period == "month":
        first = today.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"unknown budget period {period!r}")
    return _midnight(first, zone), _midnight(following, zone)


@dataclass(frozen=True)
class BudgetSpec:
    """A budget as admission needs it (plain values: cached with the /v1 plan)."""

    id: int
    name: str
    scope: str
    period: str
    limit: int  # micro-dollars
    step: int | None  # micro-dollars, the soft step
    step_percent: int | None
    over_action: str
    allowed: tuple[str, ...]
    user_id: int | None
    token_id: int | None
    workspace_id: int | None
    router_id: int | None
    step_tier: str = ""  # past the step: this tier of the router (blank: the cheapest model)

    @classmethod
    def of(cls, budget: Budget) -> BudgetSpec:
        limit = to_micro(budget.limit)
        return cls(
            id=budget.pk,
            name=budget.name,
            scope=budget.scope,
            period=budget.period,
            limit=limit,
            step=limit * budget.step_percent // 100 if budget.step_percent else None,
            step_percent=budget.step_percent,
            step_tier=budget.step_tier,
            over_action=budget.over_action,
            allowed=tuple(budget.allowed or ()),
            user_id=budget.user_id,
            token_id=budget.token_id,
            workspace_id=budget.workspace_id,
            router_id=budget.router_id,
        )

    def applies(
        self,
        *,
        user_id: int | None,
        token_id: int | None,
        workspace_id: int | None,
        router_id: int | None,
    ) -> bool:
        return {
            BudgetScope.USER: user_id is not None and self.user_id == user_id,
            BudgetScope.TOKEN: token_id is not None and self.token_id == token_id,
            BudgetScope.WORKSPACE: workspace_id is not None and self.workspace_id == workspace_id,
            BudgetScope.ROUTER: router_id is not None and self.router_id == router_id,
        }.get(self.scope, False)  # type: ignore[call-overload]


def budget_specs_for_user(*, user_id: int | None, router_id: int | None) -> list[BudgetSpec]:
    """Every enabled budget a request of this user through this router might fall under:
    theirs, their tokens', the router's, and all workspace budgets (filtered per request)."""
    scope = Q(scope=BudgetScope.WORKSPACE)
    if user_id is not None:
        scope |= Q(scope=BudgetScope.USER, user_id=user_id)
        scope |= Q(scope=BudgetScope.TOKEN, token__user_id=user_id)
    if router_id is not None:
        scope |= Q(scope=BudgetScope.ROUTER, router_id=router_id)
    return [BudgetSpec.of(b) for b in Budget.objects.filter(scope, enabled=True).order_by("pk")]


def _key(spec: BudgetSpec, start: datetime) -> str:
    return f"spend:{spec.id}:{int(start.timestamp())}"


def _entries(spec: BudgetSpec) -> Q:
    return {
        BudgetScope.USER: Q(user_id=spec.user_id),
        BudgetScope.TOKEN: Q(token_id=spec.token_id),
        BudgetScope.WORKSPACE: Q(workspace_id=spec.workspace_id),
        BudgetScope.ROUTER: Q(router_id=spec.router_id),
    }[spec.scope]  # type: ignore[index]


def spent_in_db(spec: BudgetSpec, start: datetime, end: datetime) -> int:
    total = SpendEntry.objects.filter(
        _entries(spec), created_at__gte=start, created_at__lt=end
    ).aggregate(total=Sum("cost"))["total"]
    return to_micro(total or Decimal("0"))


async def _counter_ttl(end: datetime, now: datetime) -> float:
    return max(60.0, (end - now).total_seconds() + 3600)


async def _ensure(spec: BudgetSpec, start: datetime, end: datetime, now: datetime) -> None:
    """Rebuild a lost counter from the spend entries (one process wins the race). Rare (a
    new period, a cache restart), so it may take the thread-sensitive hop: it then reads
    through the same connection as the caller's other ORM work."""
    total = await sync_to_async(spent_in_db)(spec, start, end)
    await shared_cache.counter_add(_key(spec, start), total, await _counter_ttl(end, now))


async def _incr(
    spec: BudgetSpec, start: datetime, end: datetime, now: datetime, amount: int
) -> int:
    key = _key(spec, start)
    value = await shared_cache.counter_incr(key, amount)
    if value is None:
        await _ensure(spec, start, end, now)
        value = await shared_cache.counter_incr(key, amount)
    return value or 0


@dataclass(frozen=True)
class BudgetStatus:
    spec: BudgetSpec
    start: datetime
    end: datetime
    spent: int  # micro-dollars, including estimates of answers in flight

    @property
    def percent(self) -> int:
        return int(self.spent * 100 // self.spec.limit) if self.spec.limit else 100

    @property
    def over(self) -> bool:
        return self.spent >= self.spec.limit

    @property
    def stepped(self) -> bool:
        return self.spec.step is not None and self.spent >= self.spec.step

    def describe(self) -> str:
        period = {"day": "today", "week": "this week", "month": "this month"}[self.spec.period]
        return (
            f'Budget "{self.spec.name}": {money(self.spent, self.spec.limit)} of '
            f"{money(self.spec.limit, self.spec.limit)} {period} ({self.percent}%)"
        )


async def budget_statuses(specs: Iterable[BudgetSpec], now: datetime) -> list[BudgetStatus]:
    zone = instance_zone()
    out = []
    for spec in specs:
        start, end = period_bounds(spec.period, now, zone)
        spent = await _incr(spec, start, end, now, 0)
        out.append(BudgetStatus(spec, start, end, spent))
    return out


@dataclass
class Reservation:
    """The estimates added to budget counters for one request, until it is settled."""

    estimate: int
    held: list[tuple[BudgetSpec, datetime, datetime]] = field(default_factory=list)
    settled: bool = False


async def spend_reserve(
    statuses: Iterable[BudgetStatus], estimate: int, now: datetime
) -> tuple[Reservation, BudgetStatus | None]:
    """Add `estimate` to every budget; if one that refuses was already at its limit, undo all
    and return it (the request must be refused)."""
    reservation = Reservation(estimate)
    for status in statuses:
        spec, start, end = status.spec, status.start, status.end
        value = await _incr(spec, start, end, now, estimate)
        reservation.held.append((spec, start, end))
        before = value - estimate
        if before >= spec.limit and spec.over_action == OverAction.REFUSE:
            await spend_release(reservation)
            return reservation, BudgetStatus(spec, start, end, before)
    return reservation, None


async def spend_release(reservation: Reservation) -> None:
    """Undo a reservation whose request never ran."""
    if reservation.settled:
        return
    reservation.settled = True
    for spec, start, _end in reservation.held:
        await shared_cache.counter_incr(_key(spec, start), -reservation.estimate)


_held = threading.local()


@contextmanager
def spend_batched() -> Iterator[None]:
    """Within this block, the entries this thread settles with no budget reservation to
    replace are held, then written together when it ends (one statement, a uid already stored
    skipped): for a thread that settles a run of answers at once (the /v1 logging thread),
    instead of one INSERT and commit per answer. An entry with a reservation is written at
    once, as its counters are settled against it."""
    if getattr(_held, "entries", None) is not None:  # nested: the outer block writes them
        yield
        return
    _held.entries = []
    try:
        yield
    finally:
        entries, _held.entries = _held.entries, None
        if entries:
            try:
                insert_ignoring(entries)
            except Exception:  # the answers are out; their decisions are still logged
                log.exception("could not store %s spend entries", len(entries))


def spend_settle(
    reservation: Reservation | None,
    *,
    uid: str,
    cost: Decimal,
    created_at: datetime,
    user_id: int | None,
    workspace_id: int | None = None,
    token_id: int | None = None,
    router_id: int | None = None,
    channel: str = "chat",
) -> None:
    """Record what the answer cost and replace the estimate by it (synchronous: runs where
    the answer is saved or logged). Idempotent on `uid`."""
    entry = SpendEntry(
        uid=uid,
        created_at=created_at,
        cost=cost,
        user_id=user_id,
        workspace_id=workspace_id,
        token_id=token_id,
        router_id=router_id,
        channel=channel,
    )
    held = getattr(_held, "entries", None)
    if held is not None and reservation is None:
        held.append(entry)
        return
    try:
        if connection.in_atomic_block:
            # A savepoint: a second settle's refused INSERT must not break the caller's
            # transaction (the message saved with its answer, say) along with it.
            with transaction.atomic():
                entry.save(force_insert=True)
        else:
            entry.save(force_insert=True)
    except IntegrityError:
        return  # settled before
    if reservation is None or reservation.settled:
        return
    reservation.settled = True
    delta = to_micro(cost) - reservation.estimate
    for spec, start, _end in reservation.held:
        try:
            shared_cache.counter_incr_now(_key(spec, start), delta)
        except Exception:  # the entry is written; a lost counter is rebuilt from entries
            log.warning("could not settle budget %s", spec.id, exc_info=True)


def budget_spend_rows(specs: Iterable[BudgetSpec], now: datetime) -> list[dict[str, Any]]:
    """Spend against budget for the pages, from the entries (the source of truth)."""
    zone = instance_zone()
    rows = []
    for spec in specs:
        start, end = period_bounds(spec.period, now, zone)
        spent = spent_in_db(spec, start, end)
        status = BudgetStatus(spec, start, end, spent)
        rows.append(
            {
                "spec": spec,
                "spent": money(spent, spec.limit),
                "limit": money(spec.limit, spec.limit),
                "percent": status.percent,
                "bar": min(100, status.percent),
                "stepped": status.stepped,
                "over": status.over,
                "start": start,
                "end": end,
            }
        )
    return rows
