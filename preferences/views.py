"""The "My preferences" page (set, remove, import, export; suggestions), answering a
suggestion (also from the chat page), and a router's switch for personal preferences."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from preferences.models import Preference, RouterPreferences, Suggestion
from preferences.selectors import (
    preference_list_for,
    preferences_allowed,
    suggestion_list_decided,
    suggestion_list_pending,
)
from preferences.services import (
    FILE_MAX_BYTES,
    preference_delete,
    preference_set,
    preferences_export,
    preferences_import,
    router_preferences_set,
    router_tier_names,
    suggestion_accept,
    suggestion_dismiss,
)
from providers.selectors import catalog_get_by_ref, catalog_list_enabled
from routers.models import Router, Rule
from routers.selectors import router_can_edit, router_get_for_user, router_list_usable_by
from routerweb.http import HtmxHttpRequest, attachment, id_param


def _rule_choices(request: HtmxHttpRequest) -> list[tuple[Router, list[tuple[str, str]]]]:
    """(value, label) of the rules and tiers a preference can be set for, grouped by router
    (routers that allow them)."""
    off = set(RouterPreferences.objects.filter(allowed=False).values_list("router_id", flat=True))
    groups = []
    for router in router_list_usable_by(user=request.user).prefetch_related("rules"):
        if router.pk in off:
            continue
        choices = [(f"rule:{rule.pk}", rule.name) for rule in router.rules.all()]
        choices += [(f"tier:{router.pk}:{t}", f"tier “{t}”") for t in router_tier_names(router)]
        if choices:
            groups.append((router, choices))
    return groups


def _page(request: HtmxHttpRequest, *, status: int = 200, **extra: object) -> HttpResponse:
    return render(
        request,
        "preferences/page.html",
        {
            "nav": "preferences",
            "preferences": preference_list_for(user=request.user),
            "suggestions": suggestion_list_pending(user=request.user),
            "decided": suggestion_list_decided(user=request.user)[:20],
            "rule_groups": _rule_choices(request),
            "catalog": catalog_list_enabled(),
            "file_max": FILE_MAX_BYTES,
            **extra,
        },
        status=status,
    )


@require_GET
def preferences_page(request: HtmxHttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
def preference_add(request: HtmxHttpRequest) -> HttpResponse:
    kind, _, rest = request.POST.get("rule", "").partition(":")
    rule, tier, router_id = None, "", None
    if kind == "rule":
        rule_id = id_param(rest, "rule")
        rule = Rule.objects.filter(pk=rule_id).first() if rule_id else None
        router_id = rule.router_id if rule is not None else None
    elif kind == "tier":
        raw_id, _, tier = rest.partition(":")
        router_id = id_param(raw_id, "rule")
    try:
        if router_id is None:
            raise ValidationError("Pick a rule or a tier.")
        router = router_get_for_user(user=request.user, pk=router_id)
        preference = preference_set(
            actor=request.user,
            router=router,
            rule=rule,
            tier=tier,
            model=catalog_get_by_ref(request.POST.get("model", "").strip()),
        )
    except (ValidationError, Http404) as exc:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else "Pick a rule."
        return _page(request, status=422, add_error=text)
    flash.success(request, f"Saved: {router.name} › {preference.target_label}.")
    return redirect("preferences")


@require_POST
def preference_remove(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    preference = (
        Preference.objects.select_related("router", "rule", "model__provider")
        .filter(pk=pk, user=request.user)
        .first()
    )
    if preference is None:
        raise Http404("No such preference.")
    preference_delete(actor=request.user, preference=preference)
    flash.success(request, f"Removed: {preference.router.name} › {preference.target_label}.")
    return redirect("preferences")


@require_POST
def preferences_import_view(request: HtmxHttpRequest) -> HttpResponse:
    text = request.POST.get("text", "")
    upload = request.FILES.get("file")
    if upload is not None:
        if (upload.size or 0) > FILE_MAX_BYTES:
            return _page(
                request,
                status=422,
                import_errors=[f"The file is too large (at most {FILE_MAX_BYTES:,} bytes)."],
                import_text=text,
            )
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            return _page(
                request, status=422, import_errors=["The file is not UTF-8 text."], import_text=""
            )
    try:
        saved = preferences_import(actor=request.user, text=text)
    except ValidationError as exc:
        return _page(request, status=422, import_errors=exc.messages, import_text=text)
    flash.success(request, f"Imported {len(saved)} preference{'s' if len(saved) != 1 else ''}.")
    return redirect("preferences")


@require_GET
def preferences_export_view(request: HtmxHttpRequest) -> HttpResponse:
    response = HttpResponse(
        preferences_export(user=request.user), content_type="text/plain; charset=utf-8"
    )
    response["Content-Disposition"] = attachment("preferences.txt")
    return response


def _suggestion(request: HtmxHttpRequest, pk: int) -> Suggestion:
    suggestion = (
        Suggestion.objects.select_related("router", "rule").filter(pk=pk, user=request.user).first()
    )
    if suggestion is None:
        raise Http404("No such suggestion.")
    return suggestion


def _back(request: HtmxHttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("preferences")


def _answered(request: HtmxHttpRequest, done: str, error: str = "") -> HttpResponse:
    if request.htmx:
        return render(
            request,
            "preferences/_suggestion.html",
            {"suggestion": None, "done": done, "error": error},
        )
    if error:
        flash.error(request, error)
    else:
        flash.success(request, done)
    return _back(request)


@require_POST
def suggestion_accept_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    suggestion = _suggestion(request, pk)
    try:
        preference = suggestion_accept(actor=request.user, suggestion=suggestion)
    except ValidationError as exc:
        return _answered(request, "", " ".join(exc.messages))
    return _answered(
        request,
        f"Done: the rule “{suggestion.rule.name}” now answers you with "
        f"{preference.model.display_name}.",
    )


@require_POST
def suggestion_dismiss_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    suggestion = _suggestion(request, pk)
    try:
        suggestion_dismiss(actor=request.user, suggestion=suggestion)
    except ValidationError as exc:
        return _answered(request, "", " ".join(exc.messages))
    return _answered(request, "Noted: it will not be suggested again.")


@require_http_methods(["GET", "POST"])
def router_preferences(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A router's switch for personal preferences, and how many people use them per rule."""
    router = router_get_for_user(user=request.user, pk=pk)
    if not router_can_edit(user=request.user, router=router):
        raise PermissionDenied("Only people who may edit this router can change this.")
    if request.method == "POST":
        allowed = request.POST.get("allowed") == "on"
        router_preferences_set(actor=request.user, router=router, allowed=allowed)
        flash.success(
            request,
            "Personal preferences are on." if allowed else "Personal preferences are off.",
        )
        return redirect("router_preferences", pk=router.pk)
    usage = (
        Preference.objects.filter(router=router)
        .values("rule__name", "tier", "model__provider__slug", "model__model_id")
        .annotate(people=Count("user", distinct=True))
        .order_by("tier", "rule__position", "rule__name", "-people")
    )
    return render(
        request,
        "preferences/router.html",
        {
            "router": router,
            "allowed": preferences_allowed(router_id=router.pk),
            "usage": usage,
            "nav": "routers",
        },
    )
