"""Writing the audit log. Callers pass snapshots (plain dicts) taken before and after a change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Model

from audit.models import AuditEntry

if TYPE_CHECKING:
    from accounts.models import User

# Field names whose values never reach the log, whatever the caller passes.
SECRET_FIELDS = frozenset(
    {"api_key", "api_key_encrypted", "password", "token", "token_hash", "secret"}
)
REDACTED = "••• (changed)"


def snapshot(instance: Model, fields: list[str]) -> dict[str, Any]:
    """The listed fields of a model instance as JSON-friendly values (FKs as their str)."""
    data: dict[str, Any] = {}
    for name in fields:
        value = getattr(instance, name, None)
        if (
            isinstance(value, Model)
            or value is not None
            and not isinstance(value, (str, int, float, bool, list, dict))
        ):
            value = str(value)
        data[name] = value
    return data


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if key in SECRET_FIELDS:
            changes[key] = [None, REDACTED]
        else:
            changes[key] = [old, new]
    return changes


def audit_record(
    *,
    actor: User,
    action: str,
    obj: Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    # Every write names who made it: the page's, the API token's or the admin's user, or the
    # person a command acts as. There is no anonymous "system" entry to fall back to.
    if getattr(actor, "pk", None) is None:
        raise ValueError(f"audit_record({action!r}) needs the acting user, got {actor!r}")
    changes = diff(before or {}, after or {})
    if obj is not None:
        object_type = object_type or obj._meta.model_name or ""
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:200]
    return AuditEntry.objects.create(
        actor=actor,
        actor_name=actor.get_username(),
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr[:200],
        changes=changes,
    )
