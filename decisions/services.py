"""Writing the routing log: one row per decision, idempotent on the record's uid."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction

from accounts.models import User
from decisions.models import RoutingDecision
from routers.models import Router, Rule
from routerweb.db import insert_ignoring

# Payload keys copied verbatim onto the model; ids are resolved below.
_PLAIN_FIELDS = (
    "router_version",
    "rule_name",
    "source",
    "reason",
    "model_ref",
    "answered_by",
    "attempts",
    "verdicts",
    "classifier_called",
    "classifier_latency_ms",
    "classifier_input_tokens",
    "classifier_output_tokens",
    "decision_us",
    "input_tokens",
    "output_tokens",
    "tier",
    "tier_source",
    "category",
    "complexity",
    "profile",
    "policy",
    "policy_action",
    "budget",
    "budget_step",
    "fallback_used",
    "overridden",
    "succeeded",
    "channel",
    "arm",
)
_ID_FIELDS = ("router_id", "rule_id", "user_id", "workspace_id", "message_id", "experiment_id")


def storable(value: Any) -> Any:
    """The value with every string made storable in any database: NUL (which PostgreSQL's
    text and jsonb refuse) and lone surrogates (which are not UTF-8) become U+FFFD. A
    decision quotes names and message text; no character in them may cost the record.

    Almost every record has neither, and one JSON encoding (C, a fraction of the cost of the
    walk below) finds that out: the record is then stored as it is."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return _storable(value)
    # JSON writes a NUL as the escape \u0000 (a false alarm only costs the walk); a lone
    # surrogate stays one, and UTF-8 refuses it.
    if "\\u0000" not in text and (text.isascii() or _utf8(text)):
        return value
    return _storable(value)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\ufffd")
        if not value.isascii():
            value = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        return value
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(v) for v in value]
    return value


def _values(payload: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {
        key: payload[key] for key in _PLAIN_FIELDS if key in payload and payload[key] is not None
    }
    values["cost"] = Decimal(str(payload.get("cost") or "0"))
    values["primary_cost"] = Decimal(str(payload.get("primary_cost") or "0"))
    values["created_at"] = datetime.fromisoformat(payload["created_at"])
    return values


def decision_write(payload: dict[str, Any]) -> RoutingDecision:
    """Store one decision; a second call with the same uid returns the existing row."""
    payload = storable(payload)
    values = _values(payload)
    ids = _existing_ids({key: payload.get(key) for key in _ID_FIELDS})
    # Two queries in the usual case (this runs once per answer, in the web process on the
    # embedded default): the reference check and the INSERT. A uid already stored (a task run
    # twice) fails the unique constraint at once; the row stored first is returned.
    try:
        with transaction.atomic():
            return RoutingDecision.objects.create(uid=payload["uid"], **values, **ids)
    except IntegrityError:
        existing = RoutingDecision.objects.filter(uid=payload["uid"]).first()
        if existing is None:
            raise
        return existing


def _existing_ids(ids: dict[str, int | None]) -> dict[str, int | None]:
    """Drop references to rows deleted since the decision was made (a rule edited away, say),
    checked in one query. The workspace and message are plain ids, kept as they were: the log
    outlives chat rows."""
    models: dict[str, type[Router | Rule | User]] = {
        "router_id": Router,
        "rule_id": Rule,
        "user_id": get_user_model(),
    }
    asked = [(key, value) for key, value in ids.items() if value is not None and key in models]
    if not asked:
        return ids
    quote = connection.ops.quote_name
    columns = []
    for key, _ in asked:
        meta = models[key]._meta
        columns.append(
            f"EXISTS (SELECT 1 FROM {quote(meta.db_table)} WHERE {quote(str(meta.pk.column))} = %s)"
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(columns), [value for _, value in asked])
        found = cursor.fetchone()
    return ids | {key: None for (key, _), exists in zip(asked, found, strict=True) if not exists}


def decision_write_many(payloads: list[dict[str, Any]]) -> None:
    """Store several decisions in one INSERT (a run of answers logged together); uids already
    stored are skipped, so this is as idempotent as `decision_write`. The references are
    checked once per distinct set (a run usually shares its router, rule and user)."""
    checked: dict[tuple[tuple[str, Any], ...], dict[str, int | None]] = {}
    rows = []
    for payload in map(storable, payloads):
        ids = {key: payload.get(key) for key in _ID_FIELDS}
        known = tuple(ids.items())
        if known not in checked:
            checked[known] = _existing_ids(ids)
        rows.append(RoutingDecision(uid=payload["uid"], **_values(payload), **checked[known]))
    insert_ignoring(rows)
