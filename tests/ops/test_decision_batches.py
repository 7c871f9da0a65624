"""Decisions logged in runs: what queues up while one run is written is written as the next
run, in one INSERT (or one broker message), each record exactly once. No sleeps: blocking
fakes released by the test."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from decisions.log import _enqueue, batched, decision_log, new_payload
from decisions.models import RoutingDecision
from decisions.publisher import DecisionPublisher
from decisions.services import decision_write_many
from gateway.v1 import _DecisionLogger


class _FakeCall:
    def __init__(self, name: str, log: list[str], hold: threading.Event | None = None) -> None:
        self.name, self._log, self._hold = name, log, hold
        self.entered = threading.Event()

    def log(self) -> None:
        self.entered.set()
        if self._hold is not None:
            assert self._hold.wait(30)
        self._log.append(self.name)


def test_calls_queued_while_a_run_is_written_are_logged_together_in_order(transactional_db):
    logger, logged, hold = _DecisionLogger(), [], threading.Event()
    first = _FakeCall("first", logged, hold)
    logger.submit(first)  # type: ignore[arg-type]
    assert first.entered.wait(30)  # the thread is inside the first run
    for name in ("a", "b", "c"):
        logger.submit(_FakeCall(name, logged))  # type: ignore[arg-type]
    hold.set()
    assert logger.flush()
    assert logged == ["first", "a", "b", "c"]
    assert logger.runs == 2  # "first" alone, then the three queued meanwhile
    logger.stop()


def test_a_run_stores_its_decisions_in_one_insert_and_each_once(transactional_db):
    payloads = [new_payload(rule_name=f"r{i}", source="rule", channel="api") for i in range(3)]
    with CaptureQueriesContext(connection) as queries, batched():
        for payload in payloads:
            decision_log(payload)
        assert not RoutingDecision.objects.exists()  # held until the run ends
    # One statement for the run: prepared once, run for its rows (`executemany`, which the
    # debug cursor records as "3 times: INSERT …").
    inserts = [q for q in queries.captured_queries if "INSERT" in q["sql"]]
    assert len(inserts) == 1
    assert inserts[0]["sql"].startswith("3 times: INSERT")
    assert RoutingDecision.objects.count() == 3

    decision_write_many(payloads)  # a retried message: nothing doubles
    assert sorted(RoutingDecision.objects.values_list("rule_name", flat=True)) == [
        "r0",
        "r1",
        "r2",
    ]


def test_a_run_with_a_record_that_cannot_be_stored_still_stores_the_others(transactional_db):
    good = new_payload(rule_name="good", source="rule")
    bad = new_payload(rule_name="bad", source="rule")
    bad["created_at"] = "not a time"
    with batched():
        _enqueue(good)
        _enqueue(bad)
    assert list(RoutingDecision.objects.values_list("rule_name", flat=True)) == ["good"]


def test_references_deleted_since_are_dropped_once_per_run(transactional_db, owner):
    payloads = [
        new_payload(rule_name=str(i), source="rule", user_id=owner.pk, router_id=999_999)
        for i in range(4)
    ]
    with CaptureQueriesContext(connection) as queries:
        decision_write_many(payloads)
    checks = [q for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert len(checks) == 1  # the four share their references: checked once
    rows = RoutingDecision.objects.all()
    assert {(r.user_id, r.router_id) for r in rows} == {(owner.pk, None)}


def test_a_run_goes_to_the_broker_as_one_message_or_is_written_when_it_fails():
    sent: list[list[str]] = []
    publisher = DecisionPublisher(
        maxsize=10,
        pause=60,
        publish=lambda p: pytest.fail("a run is one message"),
        publish_many=lambda ps: sent.append([p["uid"] for p in ps]),
        write=lambda p: pytest.fail("the broker took it"),
    )
    run = [new_payload(rule_name=str(i)) for i in range(3)]
    publisher.submit_many(run)
    publisher.flush()
    assert sent == [[p["uid"] for p in run]]

    written: list[str] = []

    def refusing(payloads):
        raise ConnectionError("refused")

    failing = DecisionPublisher(
        maxsize=10, pause=60, publish_many=refusing, write=lambda p: written.append(p["uid"])
    )
    failing.submit_many(run)
    failing.flush()
    assert written == [p["uid"] for p in run]


def test_runs_are_gathered_longer_when_each_one_is_a_broker_message(monkeypatch):
    from decisions.tasks import record_decision

    conf = record_decision.app.conf
    monkeypatch.setitem(conf, "task_always_eager", True)  # the embedded default
    assert _DecisionLogger().gather() == 0.1
    monkeypatch.setitem(conf, "task_always_eager", False)  # a broker and a worker
    assert _DecisionLogger().gather() == 0.25
    assert _DecisionLogger(gather=0.02).gather() == 0.02


def test_a_run_stores_every_field_as_one_decision_written_by_the_orm(transactional_db, owner):
    # The run's INSERT hands plain values (text, numbers, flags, None) to the driver as they
    # are and prepares the rest (times, amounts, JSON, uids) as Django does: both ways must
    # store what `decision_write` (the ORM's save) stores.
    from decisions.services import decision_write

    fields = dict(
        rule_name="Läuft ✓",
        source="rule",
        reason="why",
        model_ref="demo/small",
        answered_by="demo/small",
        attempts=[{"model": "demo/small", "ok": True, "usage": {"input": 3}}],
        verdicts=[{"name": "r", "matched": True}],
        classifier_called=True,
        classifier_latency_ms=12,
        classifier_input_tokens=5,
        decision_us=83.5,
        input_tokens=24,
        output_tokens=17,
        cost="0.000058",
        primary_cost="0.5",
        fallback_used=True,
        succeeded=True,
        channel="api",
        user_id=owner.pk,
    )
    one, many = new_payload(**fields), new_payload(**fields)
    many["created_at"] = one["created_at"]
    decision_write(one)
    decision_write_many([many])

    columns = [
        f.attname for f in RoutingDecision._meta.concrete_fields if f.attname not in ("id", "uid")
    ]
    stored = {d.uid: [getattr(d, c) for c in columns] for d in RoutingDecision.objects.all()}
    assert len(stored) == 2
    by_orm, by_run = stored.values()
    assert by_run == by_orm
    row = dict(zip(columns, by_run, strict=True))
    assert row["rule_name"] == "Läuft ✓" and row["decision_us"] == 83.5
    assert row["fallback_used"] is True and row["classifier_latency_ms"] == 12
    assert str(row["cost"]) == "0.000058"
