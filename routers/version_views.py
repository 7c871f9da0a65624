"""Pages for drafts and versions: publish, the version list, rollback, compare (rules diff).

Permission checks come from `routers.views._router_for_user` like every builder page: anyone
who may use a router may see its versions and diffs; publishing and rolling back need the
right to edit it.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from engine import RuleError
from engine.conditions import compile_condition
from routers.forms import ImportForm
from routers.models import Router, RouterVersion
from routers.schemas import ImportProblems, parse_text
from routers.selectors import router_can_edit
from routers.services import router_draft_import, router_snapshot
from routers.versions import (
    router_publish,
    router_rollback,
    snapshot_diff,
    version_get,
    version_list,
)
from routers.views import DETAIL, router_for_user, version_status
from routerweb.http import HtmxHttpRequest, attachment, whole_number


def _messages(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@require_POST
def router_publish_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    router = router_for_user(request, pk, edit=True)
    error = ""
    try:
        version = router_publish(
            router=router, actor=request.user, note=request.POST.get("note", "")
        )
    except ValidationError as exc:
        error = _messages(exc)
    if request.htmx:
        router.refresh_from_db()
        context = {
            "router": router,
            "can_edit": True,
            "publish_error": error,
            **version_status(router),
        }
        return render(request, f"{DETAIL}#router-version", context, status=422 if error else 200)
    if error:
        flash.error(request, error)
    else:
        flash.success(request, f"Published v{version.number}: chat and /v1 route with it now.")
    return redirect("router_detail", pk=router.pk)


@require_POST
def router_draft_import_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Replace the draft with a router file (the versions page's "Import into the draft")."""
    router = router_for_user(request, pk, edit=True)
    form = ImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            data = parse_text(form.cleaned_data["text"])
            router_draft_import(router=router, data=data, actor=request.user)
        except ImportProblems as exc:
            form.add_error(None, " ".join(exc.problems))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            flash.success(
                request,
                "The draft now holds the file's settings and rules; traffic keeps the published "
                "version until you publish.",
            )
            return redirect("router_detail", pk=router.pk)
    context = {
        "router": router,
        "versions": version_list(router=router),
        "can_edit": True,
        "nav": "routers",
        "import_form": form,
        **version_status(router),
    }
    return render(request, "routers/versions.html", context, status=422)


@require_GET
def router_versions(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    router = router_for_user(request, pk)
    context = {
        "router": router,
        "versions": version_list(router=router),
        "can_edit": router_can_edit(user=request.user, router=router),
        "nav": "routers",
        "import_form": ImportForm(),
        **version_status(router),
    }
    return render(request, "routers/versions.html", context)


@require_POST
def router_rollback_view(request: HtmxHttpRequest, pk: int, number: int) -> HttpResponse:
    router = router_for_user(request, pk, edit=True)
    if version_get(router=router, number=number) is None:
        raise Http404("No such version.")
    try:
        version = router_rollback(router=router, number=number, actor=request.user)
    except ValidationError as exc:
        flash.error(request, _messages(exc))
    else:
        flash.success(
            request,
            f"Rolled back: v{number} is published again as v{version.number}. "
            "The draft is unchanged.",
        )
    if request.htmx:
        return HttpResponseClientRedirect(reverse("router_versions", args=[router.pk]))
    return redirect("router_versions", pk=router.pk)


@require_GET
def version_export(request: HtmxHttpRequest, pk: int, number: int) -> HttpResponse:
    router = router_for_user(request, pk)
    version = version_get(router=router, number=number)
    if version is None:
        raise Http404("No such version.")
    document = json.loads(json.dumps(version.snapshot))
    for rule in document.get("router", {}).get("rules", []):
        rule.pop("id", None)  # ids belong to this instance; the file is the export format
    response = JsonResponse(document, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = attachment(f"{router.slug}.v{number}.router.json")
    return response


# --- compare ---------------------------------------------------------------------------------


def _side(router: Router, ref: str) -> tuple[str, dict[str, Any]] | None:
    """(label, snapshot) for "draft", "live" or a version number; None if there is none."""
    if ref == "draft":
        return "the draft", router_snapshot(router=router)
    version: RouterVersion | None
    if ref == "live":
        version = router.published_version
    else:
        number = whole_number(ref)
        version = version_get(router=router, number=number) if number is not None else None
    if version is None:
        return None
    live = " (published)" if version.pk == router.published_version_id else ""
    return f"v{version.number}{live}", version.snapshot


def _shown(field: str, value: Any) -> str:
    """A setting or rule field as a person reads it."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if field == "conditions":
        parts = []
        for condition in value:
            try:
                parts.append(compile_condition(condition).summary)
            except RuleError as exc:
                parts.append(f"invalid condition: {exc.message}")
        return "; ".join(parts)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


@require_GET
def router_compare(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The rules diff between two of: the draft, the published version, any version."""
    router = router_for_user(request, pk)
    old_ref = request.GET.get("old") or ("live" if router.published_version_id else "draft")
    new_ref = request.GET.get("new") or "draft"
    old, new = _side(router, old_ref), _side(router, new_ref)
    if old is None or new is None:
        raise Http404("No such version to compare.")
    if old_ref == "live" and router.published_version is not None:
        old_ref = str(router.published_version.number)
    diff = snapshot_diff(old[1], new[1])
    context = {
        "router": router,
        "nav": "routers",
        "old_label": old[0],
        "new_label": new[0],
        "old_ref": old_ref,
        "new_ref": new_ref,
        "choices": [("draft", "the draft")]
        + [(str(v.number), f"v{v.number}") for v in version_list(router=router)],
        "settings": [(label, _shown("", a), _shown("", b)) for label, a, b in diff.settings],
        "added": diff.added,
        "removed": diff.removed,
        "changed": [
            {
                "name": change.name,
                "old_name": change.old_name,
                "fields": [(f, _shown(f, a), _shown(f, b)) for f, a, b in change.fields],
            }
            for change in diff.changed
        ],
        "reordered": diff.reordered,
        "old_order": diff.old_order,
        "new_order": diff.new_order,
        "empty": diff.empty,
        "can_edit": router_can_edit(user=request.user, router=router),
        **version_status(router),
    }
    return render(request, "routers/compare.html", context)
