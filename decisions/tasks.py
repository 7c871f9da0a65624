"""Celery tasks of the decisions app: they take plain JSON and call a service."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import DatabaseError

from decisions.services import decision_write_many


@shared_task(
    name="routers.record_decision",
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
    acks_late=True,
    soft_time_limit=20,
    time_limit=30,
)
def record_decision(payload: dict[str, Any]) -> str:
    # The prepared INSERT of a batch, for one: half the cost of the ORM's save (a uid already
    # stored is skipped, as `decision_write` returns the stored row).
    decision_write_many([payload])
    return str(payload["uid"])


@shared_task(
    name="routers.record_decisions",
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
    acks_late=True,
    soft_time_limit=20,
    time_limit=30,
)
def record_decisions(payloads: list[dict[str, Any]]) -> int:
    """Several records in one message (a run of answers logged together)."""
    decision_write_many(payloads)
    return len(payloads)
