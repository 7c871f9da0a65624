"""Refuse a NUL character in anything a browser sends, before any view sees it.

PostgreSQL's text cannot hold U+0000, so a NUL that reached a query or a row (a search box,
a thread title, a condition's keyword) was a 500 there and silently fine on SQLite. Nobody
types one: it comes from a pasted binary file or a crafted request. Django's form fields
already refuse it; many inputs are read without a form, so it is refused once, here, for
the query string, the path and form bodies (the JSON API and /v1 check their JSON bodies);
the JSON API gets its refusal as JSON.
The text stays in the page: an htmx request gets a 422 whose message is shown in the page's
`#request-errors` region, a plain request a 400 page saying what to fix.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.utils.decorators import sync_and_async_middleware
from django.utils.html import escape

MESSAGE = (
    "What you sent contains a NUL character (\\u0000), usually pasted from a binary file. "
    "Remove it and try again."
)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path:
        return True
    sources = [request.GET]
    if request.method == "POST" and request.content_type in _FORM_TYPES:
        if request.path.startswith("/api/"):
            # The JSON API reads the raw body itself (and answers a form body with a 4xx):
            # keep it readable after request.POST has parsed it.
            request.body  # noqa: B018 - reads and caches the body
        sources.append(request.POST)
    for data in sources:
        for key, values in data.lists():
            if "\x00" in key or any("\x00" in v for v in values):
                return True
    return False


def _refusal(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": MESSAGE}, status=400)
    body = f'<p class="error" role="alert">{escape(MESSAGE)}</p>'
    if request.headers.get("HX-Request") == "true":
        response = HttpResponse(body, status=422)
        response["HX-Retarget"] = "#request-errors"
        response["HX-Reswap"] = "innerHTML"
        return response
    return HttpResponse(body, status=400)


@sync_and_async_middleware
def refuse_nul(
    get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]],
) -> Callable:
    if iscoroutinefunction(get_response):

        async def amiddleware(request: HttpRequest) -> HttpResponseBase:
            if has_nul(request):
                return _refusal(request)
            return await get_response(request)  # type: ignore[misc]

        return amiddleware

    def middleware(request: HttpRequest) -> HttpResponseBase:
        if has_nul(request):
            return _refusal(request)
        return get_response(request)  # type: ignore[return-value]

    return middleware
