"""Profiles an admin defines: reads and audited writes, shared by the Profiles page, the JSON
API (`/api/profiles`) and Django admin.

A profile is an instance setting like the catalog (not part of a router's versions): saving,
renaming or deleting one reaches every router that targets it at once (`profile_changed`).
Validation is the engine's (`engine.profiles.check_profile`), its errors keyed by field so the
form shows them at the field and the API as `{field, message}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.models import User
from audit.services import audit_record, snapshot
from engine import RuleError
from engine.profiles import BUILTIN_PROFILES, ProfileSpec, check_profile
from routers.compiling import profiles_defined
from routers.models import Profile, Router
from routers.services import profile_changed

PROFILE_AUDIT_FIELDS = [
    "name",
    "description",
    "needs_images",
    "needs_tools",
    "min_context",
    "max_price",
    "size_classes",
]
MAX_DESCRIPTION = 300


def profile_can_manage(user: User) -> bool:
    """Profiles are instance settings, like providers and the catalog: admins change them."""
    return bool(user.is_admin_role)


def _require_admin(user: User) -> None:
    if not profile_can_manage(user):
        raise PermissionDenied("Only admins define, change or delete profiles.")


@dataclass(frozen=True)
class ProfileRow:
    """A profile as the page and the API list it: the effective definition, whether it is
    built in, an admin's, or an admin's redefinition of a built-in one, and who uses it."""

    spec: ProfileSpec
    row: Profile | None  # the admin's definition, None for an untouched built-in
    routers: int  # routers with a rule that targets it

    @property
    def origin(self) -> str:
        if self.row is None:
            return "built-in"
        return "redefined" if self.spec.name in BUILTIN_PROFILES else "admin"

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.spec.to_dict(),
            "id": self.row.pk if self.row is not None else None,
            "origin": self.origin,
            "requirements": self.spec.requirements(),
            "routers": self.routers,
        }


def _router_counts(names: set[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    rows = (
        Router.objects.filter(rules__target_profile__in=names)
        .values_list("rules__target_profile", "pk")
        .distinct()
    )
    for name, _pk in rows:
        counts[name] = counts.get(name, 0) + 1
    return counts


def profile_list() -> list[ProfileRow]:
    """Every profile rules may target, by name: built-in ones and the admin's."""
    defined = profiles_defined()
    rows = {p.name: p for p in Profile.objects.all()}
    counts = _router_counts(set(defined))
    return [
        ProfileRow(spec, rows.get(name), counts.get(name, 0))
        for name, spec in sorted(defined.items())
    ]


def profile_get(name: str) -> ProfileRow | None:
    return next((p for p in profile_list() if p.spec.name == name), None)


def _price(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError({"max_price": ["Maximum price: a number of USD from 0 to 1,000,000"]})
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError(
            {"max_price": ["Maximum price: a number of USD from 0 to 1,000,000"]}
        ) from None
    if not price.is_finite():
        raise ValidationError({"max_price": ["Maximum price: a number of USD from 0 to 1,000,000"]})
    return price


def profile_validate(profile: Profile) -> ProfileSpec:
    """The profile's requirements checked by the engine, and its name unique; raises
    ValidationError keyed by field. Normalises the row (name lower case, sizes in order)."""
    errors: dict[str, list[str]] = {}
    if not isinstance(profile.description, str) or len(profile.description) > MAX_DESCRIPTION:
        errors["description"] = [f"Description: at most {MAX_DESCRIPTION} characters"]
    if not isinstance(profile.size_classes, list) or not all(
        isinstance(s, str) for s in profile.size_classes
    ):
        errors["size_classes"] = ["Size classes: a list of small, medium or large"]
    if errors:
        raise ValidationError(errors)
    price = _price(profile.max_price)
    try:
        spec = check_profile(
            ProfileSpec(
                name=profile.name,
                description=profile.description,
                needs_images=profile.needs_images,
                needs_tools=profile.needs_tools,
                min_context=profile.min_context,
                max_price=float(price) if price is not None else None,
                size_classes=tuple(profile.size_classes),
            )
        )
    except RuleError as exc:
        raise ValidationError({exc.field or "__all__": [exc.message]}) from None
    taken = Profile.objects.filter(name=spec.name).exclude(pk=profile.pk).exists()
    if taken:
        raise ValidationError({"name": [f"A profile named '{spec.name}' is defined already."]})
    profile.name = spec.name
    profile.size_classes = list(spec.size_classes)
    profile.max_price = price.quantize(Decimal("0.0001")) if price is not None else None
    return spec


@transaction.atomic
def profile_save(*, actor: User, profile: Profile) -> Profile:
    """Validate (ValidationError by field, nothing saved), store and audit a profile
    (`profile.create` / `profile.update`); every router targeting its old or new name
    routes with it from the next message."""
    _require_admin(actor)
    profile_validate(profile)
    stored = Profile.objects.filter(pk=profile.pk).first() if profile.pk else None
    before = snapshot(stored, PROFILE_AUDIT_FIELDS) if stored is not None else None
    profile.save()
    audit_record(
        actor=actor,
        action="profile.update" if before else "profile.create",
        obj=profile,
        before=before,
        after=snapshot(profile, PROFILE_AUDIT_FIELDS),
    )
    profile_changed(names={profile.name, *([stored.name] if stored is not None else [])})
    return profile


@transaction.atomic
def profile_delete(*, actor: User, profile: Profile) -> int:
    """Delete an admin's profile (a redefined built-in one returns to its built-in
    definition); audited. Returns how many routers target the name."""
    _require_admin(actor)
    name = profile.name
    audit_record(
        actor=actor,
        action="profile.delete",
        obj=profile,
        before=snapshot(profile, PROFILE_AUDIT_FIELDS),
    )
    profile.delete()
    return profile_changed(names={name})
