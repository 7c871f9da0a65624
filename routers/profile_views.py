"""The Profiles page: everyone sees what each profile asks of the catalog and which models
meet it; admins define, redefine and delete profiles (routers/profiles.py)."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from engine.profiles import BUILTIN_PROFILES, resolve_profile
from routers.compiling import catalog_snapshot
from routers.forms import ProfileForm
from routers.models import Profile
from routers.profiles import (
    profile_can_manage,
    profile_delete,
    profile_get,
    profile_list,
    profile_save,
)
from routerweb.http import HtmxHttpRequest


def _require_admin(request: HtmxHttpRequest) -> None:
    if not profile_can_manage(request.user):
        raise PermissionDenied("Only admins define, change or delete profiles.")


@require_GET
def profile_list_view(request: HtmxHttpRequest) -> HttpResponse:
    models, _fingerprint = catalog_snapshot()
    rows = [
        {"profile": row, "resolution": resolve_profile(row.spec, models)} for row in profile_list()
    ]
    return render(
        request,
        "routers/profiles.html",
        {"rows": rows, "can_manage": profile_can_manage(request.user), "nav": "profiles"},
    )


@require_http_methods(["GET", "POST"])
def profile_edit(request: HtmxHttpRequest, name: str | None = None) -> HttpResponse:
    """New (no name), an admin's profile, or a built-in one (saved as its redefinition)."""
    _require_admin(request)
    current = profile_get(name) if name is not None else None
    if name is not None and current is None:
        raise Http404("No such profile.")
    if current is not None and current.row is not None:
        instance = current.row
    elif current is not None:  # a built-in: the form starts from its definition
        spec = current.spec
        instance = Profile(
            name=spec.name,
            description=spec.description,
            needs_images=spec.needs_images,
            needs_tools=spec.needs_tools,
            min_context=spec.min_context,
            max_price=spec.max_price,
            size_classes=list(spec.size_classes),
        )
    else:
        instance = Profile()
    form = ProfileForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            saved = profile_save(actor=request.user, profile=form.save(commit=False))
        except ValidationError as exc:  # checked by the form already; kept for races
            form.add_error(None, exc)
        else:
            flash.success(
                request,
                f"Profile “{saved.name}” saved. Rules that target it use it from the next message.",
            )
            return redirect("profile_list")
    return render(
        request,
        "routers/profile_form.html",
        {
            "form": form,
            "current": current,
            "builtin": name in BUILTIN_PROFILES if name else False,
            "nav": "profiles",
        },
        status=422 if form.errors else 200,
    )


@require_POST
def profile_delete_view(request: HtmxHttpRequest, name: str) -> HttpResponse:
    _require_admin(request)
    current = profile_get(name)
    if current is None or current.row is None:
        raise Http404("No profile of yours has this name (a built-in one cannot be deleted).")
    routers = profile_delete(actor=request.user, profile=current.row)
    if name in BUILTIN_PROFILES:
        note = "It is back to its built-in definition."
    elif routers:
        note = (
            f"{routers} router{'s' if routers != 1 else ''} target it: those rules now leave "
            "their messages to their fallbacks and the primary model."
        )
    else:
        note = ""
    flash.success(request, f"Profile “{name}” deleted. {note}".strip())
    if request.htmx:
        return HttpResponseClientRedirect(reverse("profile_list"))
    return redirect("profile_list")
