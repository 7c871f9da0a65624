"""Error pages that look like the rest of the app (with the nav), for people, not developers.

Django renders templates/403.html and 404.html itself; 500 gets a view of our own so the page
can show the nav (Django's default renders it without the request). With DEBUG on, Django
answers a 404 with its technical page listing every URL pattern: fine for a developer, but the
demo is run by people trying the app, so `friendly_404` shows the styled page instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import cast

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseServerError
from django.http.response import HttpResponseBase
from django.template import loader
from django.utils.decorators import sync_and_async_middleware
from django.views.defaults import page_not_found

log = logging.getLogger(__name__)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the styled page with the nav when the request can still be rendered."""
    template = loader.get_template("500.html")
    try:
        return HttpResponseServerError(template.render({}, request))
    except Exception:  # the failure may be the database the nav needs: render without it
        log.exception("the 500 page could not be rendered with the request")
        return HttpResponseServerError(template.render({"bare": True}))


def _styled_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return page_not_found(request, exception or Http404())


def _unresolved_404(request: HttpRequest, response: HttpResponseBase) -> bool:
    # No URL matched: Django's technical 404 (the URL list) when DEBUG is on.
    return response.status_code == 404 and getattr(request, "resolver_match", None) is None


@sync_and_async_middleware
def friendly_404(
    get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]],
) -> Callable:
    if iscoroutinefunction(get_response):

        async def amiddleware(request: HttpRequest) -> HttpResponseBase:
            response = await get_response(request)  # type: ignore[misc]
            if settings.DEBUG and _unresolved_404(request, response):
                # Rendering reads the session and the user (the nav): database work.
                return await sync_to_async(_styled_404)(request)
            return response

        amiddleware.process_exception = _process_exception  # type: ignore[attr-defined]
        return amiddleware

    def middleware(request: HttpRequest) -> HttpResponseBase:
        response = cast(HttpResponseBase, get_response(request))
        if settings.DEBUG and _unresolved_404(request, response):
            return _styled_404(request)
        return response

    middleware.process_exception = _process_exception  # type: ignore[attr-defined]
    return middleware


def _process_exception(request: HttpRequest, exception: Exception) -> HttpResponse | None:
    if settings.DEBUG and isinstance(exception, Http404):
        return _styled_404(request, exception)
    return None
