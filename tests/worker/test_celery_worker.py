"""Routing decisions travel through a real Celery worker on Redis.

`.ci/run` starts the worker (pointed at the test database) and sets ROUTERWEB_CI_WORKER and
ROUTERWEB_WORKER_LOG; elsewhere this test is skipped.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from decisions.log import decision_log, new_payload
from decisions.models import RoutingDecision

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(
        not os.environ.get("ROUTERWEB_CI_WORKER"),
        reason="needs the Celery worker that .ci/run starts on Redis",
    ),
]


@pytest.mark.django_db(transaction=True)
def test_a_decision_record_arrives_through_the_worker(owner, demo_catalog):
    from routerweb.celery import app

    app.conf.task_always_eager = False
    payload = new_payload(
        rule_name="via worker",
        source="primary",
        answered_by="demo/small",
        user_id=owner.pk,
        cost="0.01",
    )
    decision_log(payload)  # autocommit: on_commit fires at once, publishing to Redis

    deadline = time.monotonic() + 30
    while (
        time.monotonic() < deadline
        and not RoutingDecision.objects.filter(uid=payload["uid"]).exists()
    ):
        time.sleep(0.2)
    decision = RoutingDecision.objects.get(uid=payload["uid"])
    assert decision.user_id == owner.pk and decision.rule_name == "via worker"

    # The worker, not the direct-write fallback, wrote it: its log names the task's result.
    log = Path(os.environ["ROUTERWEB_WORKER_LOG"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and payload["uid"] not in log.read_text():
        time.sleep(0.2)
    assert payload["uid"] in log.read_text()
