"""Spend entries settled in a run (the /v1 logging thread) are written together, each once;
an entry whose budget reservation must be settled is still written at once."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance.models import SpendEntry
from governance.spend import Reservation, spend_batched, spend_settle


def _settle(uid: str, reservation: Reservation | None = None) -> None:
    spend_settle(reservation, uid=uid, cost=Decimal("0.25"), created_at=timezone.now(), user_id=7)


def _inserts(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "INSERT" in q["sql"]]


def test_a_run_writes_its_entries_in_one_statement_at_its_end(db):
    with CaptureQueriesContext(connection) as queries, spend_batched():
        for uid in ("a", "b", "c"):
            _settle(uid)
        assert not SpendEntry.objects.exists()  # held until the run ends
    assert len(_inserts(queries)) == 1
    assert sorted(SpendEntry.objects.values_list("uid", flat=True)) == ["a", "b", "c"]
    assert SpendEntry.objects.get(uid="a").cost == Decimal("0.25")

    with spend_batched():  # settled again (a retried run): nothing doubles
        _settle("a")
        _settle("d")
    assert sorted(SpendEntry.objects.values_list("uid", flat=True)) == ["a", "b", "c", "d"]


def test_an_entry_with_a_reservation_is_written_at_once(db):
    with spend_batched():
        _settle("held")
        _settle("reserved", Reservation(estimate=0))
        assert list(SpendEntry.objects.values_list("uid", flat=True)) == ["reserved"]
    assert SpendEntry.objects.count() == 2


def test_without_a_run_each_entry_is_written_when_settled(db):
    _settle("now")
    assert SpendEntry.objects.filter(uid="now").exists()
