from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit.models import AuditEntry
from routerweb.http import HtmxHttpRequest


@require_GET
def audit_list(request: HtmxHttpRequest) -> HttpResponse:
    if not request.user.is_admin_role:
        raise PermissionDenied("Only admins read the audit log.")
    entries = AuditEntry.objects.all()
    filters = {
        key: request.GET.get(key, "").strip()
        for key in ("actor", "object_type", "action", "since", "until", "q")
    }
    if filters["actor"]:
        entries = entries.filter(actor_name__iexact=filters["actor"])
    if filters["object_type"]:
        entries = entries.filter(object_type=filters["object_type"])
    if filters["action"]:
        entries = entries.filter(action__startswith=filters["action"])
    if filters["q"]:
        entries = entries.filter(object_repr__icontains=filters["q"])
    for key, lookup in (("since", "created_at__date__gte"), ("until", "created_at__date__lte")):
        try:
            if filters[key]:
                entries = entries.filter(**{lookup: date.fromisoformat(filters[key])})
        except ValueError:
            filters[key] = ""
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "manage/audit.html",
        {
            "page": page,
            "filters": filters,
            "object_types": AuditEntry.objects.order_by()
            .values_list("object_type", flat=True)
            .distinct(),
            "nav": "audit",
        },
    )
