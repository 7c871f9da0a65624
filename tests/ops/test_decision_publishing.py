"""Routing decisions reach the database whatever the broker does: hung, refusing, slow, or the
process ending with records still queued. No sleeps: fakes and injected clocks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from decisions import publisher as publisher_module
from decisions.log import _enqueue, new_payload
from decisions.models import RoutingDecision
from decisions.publisher import DecisionPublisher
from tests.ops.hung_server import HungServer

ROOT = Path(__file__).resolve().parents[2]


def _forget_broker_connections(app) -> None:
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@pytest.fixture
def hung_broker(monkeypatch):
    from routerweb.celery import app

    server = HungServer()
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    keys = ("task_always_eager", "broker_url", "broker_transport_options")
    previous = {key: app.conf[key] for key in keys}
    app.conf.update(
        task_always_eager=False,
        broker_url=server.url,
        broker_transport_options={
            "socket_timeout": 0.05,
            "socket_connect_timeout": 0.05,
            "max_retries": 0,
        },
    )
    _forget_broker_connections(app)
    fresh = DecisionPublisher(maxsize=1000, pause=3600.0)
    monkeypatch.setattr(publisher_module, "_publisher", fresh)
    yield server, fresh
    app.conf.update(**previous)
    _forget_broker_connections(app)
    server.close()


def test_a_broker_that_never_answers_costs_one_timeout_not_one_per_decision(
    transactional_db, hung_broker
):
    server, publisher = hung_broker
    payloads = [new_payload(rule_name=f"r{i}", source="rule") for i in range(40)]
    for payload in payloads:
        _enqueue(payload)  # what decision_log runs on commit; returns at once
    publisher.flush()
    stored = set(RoutingDecision.objects.values_list("uid", flat=True))
    assert {str(uid) for uid in stored} == {p["uid"] for p in payloads}
    server.wait_for_requests(1)
    assert server.connections == 1  # only the first decision tried the broker


class _BlockingBroker:
    """A publish call that blocks until released, recording what it got."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.published: list[str] = []

    def __call__(self, payload) -> None:
        self.entered.set()
        assert self.release.wait(30)
        self.published.append(payload["uid"])


def test_a_full_queue_spills_to_a_direct_write_and_nothing_is_doubled():
    broker, written = _BlockingBroker(), []
    publisher = DecisionPublisher(
        maxsize=2, pause=60, publish=broker, write=lambda p: written.append(p["uid"])
    )
    payloads = [new_payload(rule_name=str(i)) for i in range(5)]
    publisher.submit(payloads[0])
    assert broker.entered.wait(30)  # the publishing thread holds the first one
    for payload in payloads[1:]:
        publisher.submit(payload)
    assert written == [payloads[3]["uid"], payloads[4]["uid"]]  # spilled at once
    assert publisher.spilled == 2
    broker.release.set()
    publisher.flush()
    assert sorted(broker.published + written) == sorted(p["uid"] for p in payloads)


def test_a_failed_publish_pauses_the_broker_for_a_while_by_the_injected_clock():
    now, calls, written = [0.0], [], []

    def refusing(payload):
        calls.append(payload["uid"])
        raise ConnectionError("refused")

    publisher = DecisionPublisher(
        maxsize=10,
        pause=30,
        publish=refusing,
        write=lambda p: written.append(p["uid"]),
        clock=lambda: now[0],
    )
    first, second, third = (new_payload(rule_name=str(i)) for i in range(3))
    publisher.submit(first)
    publisher.submit(second)
    publisher.flush()
    assert calls == [first["uid"]] and written == [first["uid"], second["uid"]]
    now[0] = 31.0
    publisher.submit(third)
    publisher.flush()
    assert calls == [first["uid"], third["uid"]]  # tried again after the pause
    assert written[-1] == third["uid"]


def test_draining_at_shutdown_writes_the_queued_and_the_in_flight_records():
    broker, written = _BlockingBroker(), []
    publisher = DecisionPublisher(
        maxsize=10, pause=60, publish=broker, write=lambda p: written.append(p["uid"])
    )
    payloads = [new_payload(rule_name=str(i)) for i in range(4)]
    publisher.submit(payloads[0])
    assert broker.entered.wait(30)
    for payload in payloads[1:]:
        publisher.submit(payload)
    assert publisher.drain() == 4
    assert sorted(written) == sorted(p["uid"] for p in payloads)
    broker.release.set()


_SCRIPT = """
import sys, threading
import django
django.setup()
from routerweb.celery import app
app.conf.update(task_always_eager=False, broker_url=sys.argv[1],
                broker_transport_options={"socket_timeout": 60, "socket_connect_timeout": 60,
                                          "max_retries": 0})
from decisions.log import _enqueue, new_payload
for i in range(10):
    _enqueue(new_payload(rule_name=f"queued-{i}", source="rule"))
print("queued", flush=True)
threading.Event().wait()
"""


def test_sigterm_with_decisions_queued_behind_a_hung_broker_writes_them_all(tmp_path):
    server = HungServer(give_up_after=120)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DATABASE_"))},
        "DJANGO_SETTINGS_MODULE": "routerweb.settings",
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "ROUTERWEB_LOCAL_DIR": str(tmp_path / "local"),
        "REDIS_URL": "",
    }
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr
    proc = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, server.url],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "queued", proc.stderr.read()
        server.wait_for_requests(1)  # the publishing thread is stuck on the hung broker
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.close()
    import sqlite3

    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        names = {row[0] for row in db.execute("select rule_name from routers_routingdecision")}
    assert names == {f"queued-{i}" for i in range(10)}, proc.stderr.read()


def test_a_message_names_what_it_carries_instead_of_a_repr_of_the_records(monkeypatch):
    from decisions.tasks import record_decision, record_decisions

    sent = []
    for task in (record_decision, record_decisions):
        monkeypatch.setattr(task, "apply_async", lambda *a, **kw: sent.append(kw))
    payloads = [new_payload(rule_name="r", source="rule") for _ in range(3)]

    publisher_module._publish_many_to_celery(payloads)
    publisher_module._publish_to_celery(payloads[0])

    assert [kw["argsrepr"] for kw in sent] == [
        "[3 decisions]",
        f"[decision {payloads[0]['uid']}]",
    ]
    assert sent[0]["args"] == [payloads] and sent[1]["args"] == [payloads[0]]
