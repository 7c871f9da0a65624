"""Celery tasks of the evaluation app: they take ids and call a service."""

from __future__ import annotations

from celery import shared_task

from evaluation.replay import replay_execute


@shared_task(
    name="evaluation.replay",
    acks_late=True,
    # A replay of a long period classifies many messages; it is cut at its cost cap anyway.
    soft_time_limit=3_600,
    time_limit=3_700,
)
def replay_task(run_id: int) -> str:
    return replay_execute(run_id=run_id).status
