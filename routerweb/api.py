"""The JSON API root: each app contributes a ninja Router mounted here.

Auth is a bearer token (`accounts.auth`) or the browser session with CSRF. Domain errors
raised by selectors and services are turned into responses once, here:

    Django ValidationError, engine RuleError → 422 {"detail", "errors": [{"field", "message"}]}
    Http404 → 404 {"detail"}    PermissionDenied → 403 {"detail"}

The docs page (`/api/docs`) is Swagger UI served from our own static files
(`static/vendor/swagger-ui/`), since the CSP allows scripts from 'self' only.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, URLResolver
from ninja import NinjaAPI
from ninja.openapi.docs import Swagger

from accounts.auth import api_auth
from chat.api import router as chat_router
from chat.provider_api import router as providers_router
from controls.api import budgets as budgets_router
from controls.api import policies as policies_router
from decisions.api import router as decisions_router
from engine import RuleError
from evaluation.api import router as evaluation_router
from planning.api import router as planning_router
from routers.api import router as routers_router
from routers.profile_api import router as profiles_router


class LocalSwagger(Swagger):
    """Swagger UI from vendored static files, configured by a JSON block and a static script."""

    template = "api_docs.html"

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        return render(request, self.template, {"api": api, "swagger_settings": self.settings})


api = NinjaAPI(
    title="routerweb API",
    version="1",
    description=(
        "Routers, rules, workspaces and routing decisions. Authenticate with "
        "`Authorization: Bearer rw_…` (a token from /account/tokens/) or, from the browser, "
        "the session cookie plus an `X-CSRFToken` header on writes."
    ),
    auth=api_auth,
    urls_namespace="api",
    docs=LocalSwagger(settings={"persistAuthorization": True}),
)


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    if hasattr(exc, "error_dict"):
        return [
            {"field": field, "message": message}
            for field, errors in exc.message_dict.items()
            for message in errors
        ]
    return [{"field": "__all__", "message": message} for message in exc.messages]


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = _field_errors(exc)
    detail = "; ".join(
        e["message"] if e["field"] == "__all__" else f"{e['field']}: {e['message']}" for e in errors
    )
    return api.create_response(request, {"detail": detail, "errors": errors}, status=422)


@api.exception_handler(RuleError)
def _rule_error(request: HttpRequest, exc: RuleError) -> HttpResponse:
    errors = [{"field": exc.field or "__all__", "message": exc.message}]
    return api.create_response(request, {"detail": exc.message, "errors": errors}, status=422)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or "Not found."}, status=404)


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or "You may not do this."}, status=403)


api.add_router("/routers", routers_router)
api.add_router("/routers", planning_router)
api.add_router("/routers", evaluation_router)
api.add_router("/decisions", decisions_router)
api.add_router("/workspaces", chat_router)
api.add_router("/providers", providers_router)
api.add_router("/profiles", profiles_router)
api.add_router("/policies", policies_router)
api.add_router("/budgets", budgets_router)


def api_urls() -> tuple[list[URLPattern | URLResolver], str, str]:
    """`api.urls`, exempt from LoginRequiredMiddleware: the API authenticates by itself
    (a bearer token has no session, and anonymous calls must get a 401, not a redirect)."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            login_not_required(pattern.callback)
    return patterns, app_name, namespace
