from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from routerweb import observability
from routerweb.api import api_urls


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


@login_not_required
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics for a scraper with the token or on an allowed network."""
    token = settings.METRICS_TOKEN
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        allowed = True
    else:
        allowed = observability.address_allowed(
            request.META.get("REMOTE_ADDR", ""), settings.METRICS_ALLOWED_NETWORKS
        )
    if not allowed:
        return HttpResponse(
            "Metrics are readable with 'Authorization: Bearer <METRICS_TOKEN>' or from "
            "METRICS_ALLOWED_NETWORKS.\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(observability.metrics_text(), content_type=CONTENT_TYPE_LATEST)


handler500 = "routerweb.errors.server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", api_urls()),
    path("v1/", include("gateway.urls")),
    path("", include("accounts.urls")),
    path("", include("chat.urls")),
    path("routers/", include("routers.urls")),
    path("routers/", include("planning.urls")),
    path("routers/", include("decisions.urls")),
    path("routers/", include("evaluation.urls")),
    path("manage/", include("accounts.manage_urls")),
    path("", include("controls.urls")),
    path("", include("preferences.urls")),
    path("", include("experiments.urls")),
    path("manage/audit/", include("audit.urls")),
]
