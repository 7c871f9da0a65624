from __future__ import annotations

from decisions.log import new_payload
from decisions.models import RoutingDecision
from decisions.services import decision_write
from decisions.tasks import record_decision


def test_the_task_is_idempotent(db):
    payload = new_payload(rule_name="twice", source="rule", cost="0.5")
    record_decision.apply(args=[payload])
    record_decision.apply(args=[payload])
    assert RoutingDecision.objects.filter(uid=payload["uid"]).count() == 1


def test_references_to_deleted_rows_are_dropped_not_fatal(db):
    payload = new_payload(rule_name="gone", router_id=999_999, rule_id=888_888, user_id=777_777)
    decision = decision_write(payload)
    assert decision.router_id is None and decision.rule_id is None and decision.user_id is None
    assert decision.rule_name == "gone"


def test_the_payload_is_plain_json():
    import json
    from decimal import Decimal

    payload = new_payload(cost=Decimal("0.000123"), attempts=[{"model": "a/b", "ok": True}])
    assert json.loads(json.dumps(payload))["cost"] == "0.000123"
