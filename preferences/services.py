"""Writes of personal preferences, every one audited with the person who made it.

The preferences file is one preference per line, `router-slug / rule name = provider/model-id`
(or `router-slug / tier:name = …` for a tier);
a line starting with `#` is a comment, blank lines are ignored. Importing it validates every line first and
changes nothing when one is wrong (errors name the line, counting from 1)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from preferences.models import Preference, RouterPreferences, Suggestion, SuggestionState
from preferences.selectors import preference_list_for, preferences_allowed
from providers.models import CatalogModel
from providers.selectors import catalog_get_by_ref
from routers import config_version
from routers.models import Router, Rule
from routers.selectors import router_by_slug_usable_by, router_can_edit, router_can_use

FILE_MAX_BYTES = 20_000
FILE_MAX_LINES = 500
OFF_MESSAGE = "Personal preferences are turned off for the router “{name}” by its managers."


def _state(preference: Preference | None) -> dict[str, str] | None:
    if preference is None:
        return None
    return {
        "router": preference.router.slug,
        **({"tier": preference.tier} if preference.tier else {"rule": str(preference.rule)}),
        "model": preference.model.ref,
    }


def router_tier_names(router: Router) -> list[str]:
    return [str(t.get("name")) for t in router.tiers or () if isinstance(t, dict) and t.get("name")]


def _check(
    *, user: User, router: Router, rule: Rule | None, tier: str, model: CatalogModel | None
) -> None:
    if not router_can_use(user=user, router=router):
        raise ValidationError(f"You cannot use the router “{router.name}”.")
    if not preferences_allowed(router_id=router.pk):
        raise ValidationError(OFF_MESSAGE.format(name=router.name))
    if (rule is None) == (not tier):
        raise ValidationError("Pick a rule or a tier.")
    if rule is not None and rule.router_id != router.pk:
        raise ValidationError(f"The rule “{rule.name}” is not in the router “{router.name}”.")
    if tier and tier not in router_tier_names(router):
        raise ValidationError(f"The router “{router.name}” has no tier “{tier}”.")
    if model is None:
        raise ValidationError("Pick an enabled model.")


def preference_set(
    *,
    actor: User,
    router: Router,
    rule: Rule | None = None,
    tier: str = "",
    model: CatalogModel | None,
) -> Preference:
    """The actor's preferred model for `rule`, or for the router's `tier` (replacing any
    earlier one). Raises ValidationError (nothing changed)."""
    _check(user=actor, router=router, rule=rule, tier=tier, model=model)
    assert model is not None
    with transaction.atomic():
        existing = (
            Preference.objects.select_related("router", "rule", "model__provider")
            .filter(user=actor, **_target(router, rule, tier))
            .first()
        )
        before = _state(existing)
        preference = existing or Preference(user=actor, router=router, rule=rule, tier=tier)
        preference.model = model
        preference.save()
        config_version.bump()  # the /v1 gateway keeps each user's preferences with its plans
        audit_record(
            actor=actor,
            action="preference.set",
            obj=preference,
            before=before,
            after=_state(preference),
        )
    return preference


def _target(router: Router, rule: Rule | None, tier: str) -> dict[str, object]:
    return {"rule": rule} if rule is not None else {"router": router, "tier": tier}


def preference_delete(*, actor: User, preference: Preference) -> None:
    if preference.user_id != actor.pk:
        raise PermissionDenied("That preference is someone else's.")
    before = _state(preference)
    with transaction.atomic():
        audit_record(actor=actor, action="preference.delete", obj=preference, before=before)
        preference.delete()
        config_version.bump()


# --- the preferences file ------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedLine:
    line: int
    router: Router
    rule: Rule | None
    tier: str
    model: CatalogModel

    @property
    def key(self) -> tuple[int, str]:
        return (self.router.pk, f"tier:{self.tier}" if self.tier else f"rule:{self.rule_id}")

    @property
    def rule_id(self) -> int | None:
        return self.rule.pk if self.rule is not None else None

    @property
    def label(self) -> str:
        return f"tier “{self.tier}”" if self.tier else f"rule “{self.rule}”"


def preferences_parse(*, user: User, text: str) -> list[ParsedLine]:
    """Every line of a preferences file, checked. Raises ValidationError listing each bad line."""
    if len(text.encode("utf-8", "surrogatepass")) > FILE_MAX_BYTES:
        raise ValidationError(f"The file is too large (at most {FILE_MAX_BYTES:,} bytes).")
    lines = text.splitlines()
    if len(lines) > FILE_MAX_LINES:
        raise ValidationError(f"The file has too many lines (at most {FILE_MAX_LINES}).")
    errors: list[str] = []
    parsed: list[ParsedLine] = []
    seen: dict[tuple[int, str], int] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            item = _parse_line(user, number, line)
        except ValidationError as exc:
            errors.append(f"line {number}: {' '.join(exc.messages)}")
            continue
        if item.key in seen:
            errors.append(
                f"line {number}: the {item.label} of “{item.router.slug}” "
                f"is already set on line {seen[item.key]}"
            )
            continue
        seen[item.key] = number
        parsed.append(item)
    if errors:
        raise ValidationError(errors)
    if not parsed:
        raise ValidationError(
            "The file has no preferences. Write one per line: router-slug / rule name = provider/model-id"
        )
    return parsed


def _parse_line(user: User, number: int, line: str) -> ParsedLine:
    left, sep, model_ref = line.rpartition("=")
    if not sep:
        raise ValidationError("expected “router-slug / rule name = provider/model-id”")
    slug, sep, rule_name = left.partition("/")
    slug, rule_name, model_ref = slug.strip(), rule_name.strip(), model_ref.strip()
    if not sep or not slug or not rule_name or not model_ref:
        raise ValidationError("expected “router-slug / rule name = provider/model-id”")
    router = router_by_slug_usable_by(user=user, slug=slug)
    if router is None:
        raise ValidationError(f"no router “{slug}” that you can use")
    if not preferences_allowed(router_id=router.pk):
        raise ValidationError(OFF_MESSAGE.format(name=router.name))
    rule, tier = None, ""
    if rule_name.lower().startswith("tier:"):
        tier = rule_name[5:].strip()
        if tier not in router_tier_names(router):
            raise ValidationError(f"the router “{slug}” has no tier “{tier}”")
    else:
        rules = list(router.rules.filter(name__iexact=rule_name))
        if not rules:
            raise ValidationError(f"the router “{slug}” has no rule “{rule_name}”")
        if len(rules) > 1:
            raise ValidationError(f"the router “{slug}” has {len(rules)} rules named “{rule_name}”")
        rule = rules[0]
    model = catalog_get_by_ref(model_ref)
    if model is None:
        raise ValidationError(f"no enabled model “{model_ref}” (write provider/model-id)")
    return ParsedLine(number, router, rule, tier, model)


def preferences_import(*, actor: User, text: str) -> list[Preference]:
    """Set every preference of the file (others are kept). Nothing changes on an error."""
    parsed = preferences_parse(user=actor, text=text)
    with transaction.atomic():
        return [
            preference_set(actor=actor, router=p.router, rule=p.rule, tier=p.tier, model=p.model)
            for p in parsed
        ]


def preferences_export(*, user: User) -> str:
    """The user's preferences as a file `preferences_import` reads back."""
    lines = [
        "# routerweb personal preferences: router-slug / rule name (or tier:name) = provider/model-id",
        *(
            f"{p.router.slug} / {p.file_target} = {p.model.ref}"
            for p in preference_list_for(user=user)
        ),
    ]
    return "\n".join(lines) + "\n"


# --- suggestions ---------------------------------------------------------------------------


def _own_pending(actor: User, suggestion: Suggestion) -> None:
    if suggestion.user_id != actor.pk:
        raise PermissionDenied("That suggestion is someone else's.")
    if suggestion.state != SuggestionState.PENDING:
        raise ValidationError("This suggestion was already answered.")


def suggestion_accept(*, actor: User, suggestion: Suggestion) -> Preference:
    """Make the suggested preference; the suggestion is remembered as accepted."""
    _own_pending(actor, suggestion)
    with transaction.atomic():
        preference = preference_set(
            actor=actor,
            router=suggestion.router,
            rule=suggestion.rule,
            model=catalog_get_by_ref(suggestion.model_ref),
        )
        suggestion.state = SuggestionState.ACCEPTED
        suggestion.decided_at = timezone.now()
        suggestion.save(update_fields=["state", "decided_at"])
    return preference


def suggestion_dismiss(*, actor: User, suggestion: Suggestion) -> None:
    _own_pending(actor, suggestion)
    suggestion.state = SuggestionState.DISMISSED
    suggestion.decided_at = timezone.now()
    suggestion.save(update_fields=["state", "decided_at"])
    audit_record(
        actor=actor,
        action="preference.suggestion_dismiss",
        obj=suggestion,
        after={"rule": suggestion.rule.name, "model": suggestion.model_ref},
    )


# --- the router's switch -------------------------------------------------------------------


def router_preferences_set(*, actor: User, router: Router, allowed: bool) -> RouterPreferences:
    """Turn personal preferences on or off for a router (its owner, managers, admins)."""
    if not router_can_edit(user=actor, router=router):
        raise PermissionDenied("Only people who may edit this router can change this.")
    with transaction.atomic():
        setting, _ = RouterPreferences.objects.select_for_update().get_or_create(router=router)
        before = {"preferences_allowed": setting.allowed}
        setting.allowed = allowed
        setting.save()
        config_version.bump()
        audit_record(
            actor=actor,
            action="router.preferences",
            obj=router,
            before=before,
            after={"preferences_allowed": allowed},
        )
    return setting
