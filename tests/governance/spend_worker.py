"""A separate process that admits requests against a budget (spawned by test_spend.py).

Imports Django only after `django.setup()`, since a spawned process starts from nothing."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from typing import Any


def reserve_many(count: int, estimate: int, limit: int, now: datetime, out: Any) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routerweb.settings")
    import django

    django.setup()
    from governance.spend import BudgetSpec, budget_statuses, spend_reserve

    spec = BudgetSpec(
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

    async def run() -> int:
        statuses = await budget_statuses([spec], now)
        admitted = 0
        for _ in range(count):
            _, refused = await spend_reserve(statuses, estimate, now)
            admitted += refused is None
        return admitted

    out.put(asyncio.run(run()))
