"""Budget periods, counters rebuilt from the entries, and admission under concurrency."""

from __future__ import annotations

import asyncio
import multiprocessing
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache

from governance.models import SpendEntry
from governance.spend import (
    BudgetSpec,
    budget_statuses,
    period_bounds,
    spend_reserve,
    spend_settle,
)
from tests.governance.spend_worker import reserve_many

BERLIN = ZoneInfo("Europe/Berlin")


def spec(limit: int = 1_000_000, **fields) -> BudgetSpec:
    values = dict(
        id=1,
        name="Team",
        scope="workspace",
        period="month",
        limit=limit,
        step=None,
        step_percent=None,
        over_action="refuse",
        allowed=(),
        user_id=None,
        token_id=None,
        workspace_id=7,
        router_id=None,
    )
    values.update(fields)
    return BudgetSpec(**values)


@pytest.mark.parametrize(
    "period, start, end",
    [
        ("day", datetime(2026, 3, 29, tzinfo=BERLIN), datetime(2026, 3, 30, tzinfo=BERLIN)),
        ("week", datetime(2026, 3, 23, tzinfo=BERLIN), datetime(2026, 3, 30, tzinfo=BERLIN)),
        ("month", datetime(2026, 3, 1, tzinfo=BERLIN), datetime(2026, 4, 1, tzinfo=BERLIN)),
    ],
)
def test_periods_are_calendar_periods_in_the_instance_zone(period, start, end):
    # 23:30 UTC on Saturday 28 March is already Sunday 29 March in Berlin (DST starts that day).
    now = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    assert period_bounds(period, now, BERLIN) == (start, end)


def test_a_day_with_a_dst_change_is_23_hours_long():
    start, end = period_bounds("day", datetime(2026, 3, 29, 12, tzinfo=UTC), BERLIN)
    assert (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() == 23 * 3600


def test_december_rolls_over_to_january():
    start, end = period_bounds("month", datetime(2026, 12, 15, tzinfo=UTC), BERLIN)
    assert end == datetime(2027, 1, 1, tzinfo=BERLIN)


def _seed(amount: str, when: datetime, workspace_id: int = 7) -> None:
    SpendEntry.objects.create(
        uid=f"{amount}-{when.isoformat()}-{workspace_id}",
        created_at=when,
        cost=Decimal(amount),
        workspace_id=workspace_id,
    )


@pytest.mark.django_db
def test_a_lost_counter_is_rebuilt_from_this_periods_entries(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    now = datetime(2026, 3, 20, 12, tzinfo=UTC)
    _seed("0.25", datetime(2026, 3, 2, tzinfo=UTC))
    _seed("0.50", datetime(2026, 3, 19, tzinfo=UTC))
    _seed("9.00", datetime(2026, 2, 27, tzinfo=UTC))  # last month
    _seed("9.00", datetime(2026, 3, 19, tzinfo=UTC), workspace_id=8)  # another workspace
    (status,) = async_to_sync(budget_statuses)([spec()], now)
    assert status.spent == 750_000
    cache.clear()  # the shared cache restarts: nothing is lost
    (status,) = async_to_sync(budget_statuses)([spec()], now)
    assert status.spent == 750_000 and status.percent == 75


@pytest.mark.django_db
def test_concurrent_requests_cannot_overspend_beyond_one_requests_worth():
    now = datetime(2026, 3, 20, 12, tzinfo=UTC)
    estimate = 300_000

    async def run() -> list[bool]:
        statuses = await budget_statuses([spec()], now)
        # Ten requests in flight at once: every one reserves before any finishes.
        results = await asyncio.gather(*(spend_reserve(statuses, estimate, now) for _ in range(10)))
        return [refused is None for _, refused in results], [r for r, _ in results]

    admitted, reservations = async_to_sync(run)()
    assert admitted.count(True) == 4  # 0, .3, .6 and .9 were below the $1 limit
    for index, (ok, reservation) in enumerate(zip(admitted, reservations, strict=True)):
        if ok:  # each answer cost exactly what was reserved
            spend_settle(
                reservation,
                uid=f"r{index}",
                cost=Decimal("0.3"),
                created_at=now,
                user_id=None,
                workspace_id=7,
            )
    (status,) = async_to_sync(budget_statuses)([spec()], now)
    assert status.spent == 1_200_000
    assert status.spent - spec().limit <= estimate, "at most one request past the limit"
    assert async_to_sync(spend_reserve)([status], estimate, now)[1] is not None


@pytest.mark.skipif(
    "redis" not in settings.CACHES["default"]["BACKEND"].lower(),
    reason="two processes share spend only through Redis (CI's PostgreSQL + Redis run)",
)
@pytest.mark.django_db
def test_two_processes_cannot_overspend_beyond_one_requests_worth():
    from routerweb import shared_cache

    now = datetime(2026, 3, 20, 12, tzinfo=UTC)
    start, _ = period_bounds("month", now, ZoneInfo(settings.TIME_ZONE))
    key = f"spend:1:{int(start.timestamp())}"
    async_to_sync(shared_cache.delete)(key)
    async_to_sync(shared_cache.counter_add)(key, 0, 3600)
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    workers = [
        context.Process(target=reserve_many, args=(20, 70_000, 1_000_000, now, out))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    admitted = [out.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    total = sum(admitted) * 70_000
    assert 1_000_000 <= total <= 1_000_000 + 70_000, admitted
    async_to_sync(shared_cache.delete)(key)


@pytest.mark.django_db
def test_an_answer_is_booked_once_under_an_id_made_when_it_is_booked():
    # Planning a message makes no booking id; booking makes one, the entry carries it, and
    # settling the same answer again books nothing more, inside the caller's own transaction
    # (the test's) too: the second INSERT is refused without breaking it.
    from routers.budgets import BudgetResult, budget_settle

    result, other = BudgetResult(), BudgetResult()
    assert result.uid == other.uid == ""
    for _ in range(2):
        budget_settle(
            result,
            cost=Decimal("0.25"),
            created_at=datetime(2026, 3, 2, tzinfo=UTC),
            user_id=None,
            workspace_id=7,
        )
    assert result.uid and result.booking_uid() == result.uid
    assert list(SpendEntry.objects.values_list("uid", flat=True)) == [result.uid]
    assert other.booking_uid() != result.uid
