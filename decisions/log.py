"""Recording routing decisions without slowing the answer.

`decision_log(payload)` hands a plain-JSON record to Celery once the surrounding transaction
commits. With no broker configured (embedded default) the task runs in-process. Otherwise the
record goes on a bounded in-process queue that one thread publishes from; a broker that is
down, refuses or does not answer, a full queue, or the process ending all mean the record is
written directly (decisions/publisher.py): nothing is lost and no answer waits.
`decision_write` is idempotent on the record's `uid`, so a task that runs twice (a retry after
a lost ack) still leaves one row.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from decisions.publisher import publisher
from decisions.services import decision_write, decision_write_many
from decisions.tasks import record_decision
from routers.facts import RoutingFacts
from routerweb import observability

log = logging.getLogger(__name__)


def new_payload(**fields: Any) -> dict[str, Any]:
    """A JSON-safe record: Decimals as strings, datetimes as ISO text, a fresh uid (unless
    `uid` is given)."""
    payload: dict[str, Any] = {"uid": str(uuid.uuid4()), "created_at": timezone.now().isoformat()}
    for key, value in fields.items():
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        payload[key] = value
    return payload


def answer_payload(
    *,
    facts: RoutingFacts,
    result: Any,
    router: Any,
    input_tokens: int,
    output_tokens: int,
    cost: Decimal,
    primary_cost: Decimal,
    channel: str,
    **ids: Any,
) -> dict[str, Any]:
    """The record of one answer, from its routing facts (`routers.facts.RoutingFacts`) and the
    failure policy's `ChainResult`; every surface logs through this (via `planning.settle`).
    `ids` are user_id and uid, and workspace_id and message_id for the chat."""
    classifier = facts.classifier or {}
    called = facts.classifier_called
    return new_payload(
        router_id=router.pk if router is not None else None,
        router_version=router.version if router is not None else 0,
        rule_id=facts.rule_id,
        rule_name=facts.rule_name,
        source=facts.source,
        reason=facts.reason,
        model_ref=facts.model,
        answered_by=result.answered_by or "",
        attempts=result.attempts,
        verdicts=facts.verdicts(),
        classifier_called=called,
        classifier_latency_ms=classifier.get("latency_ms") if called else None,
        classifier_input_tokens=classifier.get("input_tokens", 0),
        classifier_output_tokens=classifier.get("output_tokens", 0),
        decision_us=facts.decision_us,
        tier=facts.tier,
        tier_source=facts.tier_source,
        category=facts.category,
        complexity=facts.complexity,
        **facts.log_fields(),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost=cost,
        primary_cost=primary_cost,
        fallback_used=result.fallback_used,
        overridden=facts.source == "override",
        succeeded=result.complete,
        channel=channel,
        experiment_id=facts.experiment.get("id") if facts.experiment else None,
        arm=facts.experiment.get("arm", "") if facts.experiment else "",
        # For metrics (routerweb.observability); the stored row does not keep these.
        router_slug=router.slug if router is not None else "",
        classifier_cached=bool(classifier.get("cached")) if called else False,
        classifier_error=bool(classifier.get("error")) if called else False,
        **ids,
    )


def decision_log(payload: dict[str, Any]) -> None:
    """Count it in the metrics, and enqueue the record after commit (the task must be able to
    see the rows it refers to)."""
    observability.record_decision(payload)
    transaction.on_commit(lambda: _enqueue(payload))


_held = threading.local()


@contextmanager
def batched() -> Iterator[None]:
    """Within this block, the records this thread logs are held, then stored together when
    it ends: one bulk INSERT on the embedded default, one broker message otherwise, instead
    of one each. For a thread that logs a run of answers at once (the /v1 logging thread).
    Each record is still handed over only once its transaction has committed."""
    if getattr(_held, "payloads", None) is not None:  # nested: the outer block stores them
        yield
        return
    _held.payloads = []
    try:
        yield
    finally:
        payloads, _held.payloads = _held.payloads, None
        if payloads:
            _enqueue_many(payloads)


def via_broker() -> bool:
    """Whether decisions go to the worker through a broker (else they are written here)."""
    return not record_decision.app.conf.task_always_eager


def _enqueue(payload: dict[str, Any]) -> None:
    held = getattr(_held, "payloads", None)
    if held is not None:
        held.append(payload)
        return
    _enqueue_many([payload])


def _enqueue_many(payloads: list[dict[str, Any]]) -> None:
    if not via_broker():
        # No broker (the embedded default): write them here. Running an eager Celery task
        # would only add the task machinery's overhead (about as much as the INSERT) on the
        # web process, with no retry to gain.
        _write_here(payloads)
        return
    # Never waits on the broker: a bounded queue and one publishing thread, which writes the
    # records directly when the broker is down or slow (decisions/publisher.py).
    if len(payloads) == 1:
        publisher().submit(payloads[0])
    else:
        publisher().submit_many(payloads)


def _write_here(payloads: list[dict[str, Any]]) -> None:
    # One record too goes through the prepared INSERT: `decision_write` (the ORM's save) costs
    # about twice as much, and it is the one-by-one fallback below.
    try:
        decision_write_many(payloads)
        return
    except Exception:  # one bad record must not cost the others: write them one by one
        log.warning("could not write %s decisions at once", len(payloads), exc_info=True)
    for payload in payloads:
        try:
            decision_write(payload)
        except Exception:
            log.exception("could not write routing decision %s", payload["uid"])
