"""ASGI entry point: uvicorn serves this so chat answers can stream.

`/v1/` (the OpenAI-compatible gateway) is served by a second Django handler without the
browser middleware stack: it authenticates with bearer tokens, has no session, cookies, CSRF,
messages or templates, and every `MiddlewareMixin` middleware costs two thread hops per request
under ASGI — about 3 ms that a gateway should not add in front of each model call. Everything
else (pages, htmx, the JSON API, admin) goes through the full stack.

The gateway handler also skips the two hops Django's ASGI handler makes around every request
(see `GatewayHandler.handle`), so a `/v1` call whose plan is cached never leaves the event loop
before the model is called.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routerweb.settings")

django_application = get_asgi_application()

from routerweb import observability  # noqa: E402

# OTLP trace export when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise nothing is set up.
observability.configure_tracing()

import asyncio  # noqa: E402
from contextlib import closing  # noqa: E402

from django.core.exceptions import RequestAborted  # noqa: E402
from django.core.handlers.asgi import ASGIHandler, get_script_prefix  # noqa: E402
from django.core.handlers.exception import convert_exception_to_response  # noqa: E402
from django.http import HttpRequest, HttpResponseBase  # noqa: E402
from django.middleware.security import SecurityMiddleware  # noqa: E402
from django.urls import ResolverMatch, set_script_prefix  # noqa: E402

GATEWAY_PREFIX = "/v1/"
# Served without the browser middleware too: a scraper has no session, and an HTTPS redirect
# would only get in the way of a scrape on the internal network.
METRICS_PATH = "/metrics"


class GatewayHandler(ASGIHandler):
    """Django's ASGI handler with no middleware stack: URL resolution, the view, exception
    handling — and SecurityMiddleware's checks, run inline (they are pure header work), so
    `/v1` gets the same HTTPS redirect, HSTS, nosniff and referrer policy as every page."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Callable[..., Any]] = []
        self._template_response_middleware: list[Callable[..., Any]] = []
        self._exception_middleware: list[Callable[..., Any]] = []
        # Django's private handlers, which django-stubs does not declare.
        get_response = self._get_response_async if is_async else self._get_response  # type: ignore[attr-defined]
        inner: Any = convert_exception_to_response(get_response)
        security = SecurityMiddleware(inner)

        if is_async:

            async def secured(request: HttpRequest) -> HttpResponseBase:
                # Called directly, not as middleware: no thread hop per request.
                redirect = security.process_request(request)
                if redirect is not None:
                    return redirect
                return security.process_response(request, await inner(request))

            self._middleware_chain = convert_exception_to_response(secured)
        else:

            def secured_sync(request: HttpRequest) -> HttpResponseBase:
                redirect = security.process_request(request)
                if redirect is not None:
                    return redirect
                return security.process_response(request, inner(request))

            self._middleware_chain = convert_exception_to_response(secured_sync)

    # Gateway URLs carry no arguments, so a path resolves to the same view every time: it is
    # looked up once (Django's resolver walks every pattern of the project on each request).
    _resolved: dict[str, ResolverMatch] = {}

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        match = self._resolved.get(request.path_info)
        if match is None:
            match = super().resolve_request(request)  # raises Resolver404 for an unknown path
            if not match.args and not match.kwargs and len(self._resolved) < 64:
                self._resolved[request.path_info] = match
        request.resolver_match = match
        return match

    async def handle(self, scope, receive, send):
        """`ASGIHandler.handle` without its two thread hops.

        Django sends `request_started` through a worker thread (its receivers recycle that
        thread's database connections) and closes the response on one. Gateway views do their
        database work through `routerweb.db.run_db`, which recycles connections itself, so the
        signal is not sent; and the response is closed on the event loop: closing a gateway
        response only queues its decision log on the logging thread (gateway/v1.py) and sends
        `request_finished`, whose receivers find no connection on the loop's thread.
        """
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        with closing(body_file):
            set_script_prefix(get_script_prefix(scope))
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                await self.send_response(_sized(error_response), send)
                error_response.close()
                return
            response = None
            try:
                try:
                    async with asyncio.TaskGroup() as tg:
                        tg.create_task(self.listen_for_disconnect(receive))
                        response = _sized(await self.run_get_response(request))
                        await self.send_response(response, send)
                        raise _Processed
                except* (_Processed, RequestAborted):
                    pass
            except BaseExceptionGroup as group:
                if len(group.exceptions) == 1:
                    raise group.exceptions[0] from None
                raise
            if response is not None:
                response.close()


def _sized(response: HttpResponseBase) -> HttpResponseBase:
    """A whole (not streamed) response with its Content-Length, as CommonMiddleware gives every
    page: without one the server sends it chunked, and every client de-chunks it."""
    if not response.streaming and not response.has_header("Content-Length"):
        response.headers["Content-Length"] = str(len(response.content))  # type: ignore[attr-defined]
    return response


class _Processed(Exception):
    """Ends the task group once the response is sent (as Django's own handler does)."""


gateway_application = GatewayHandler()


async def application(scope, receive, send):
    path = scope.get("path", "")
    if scope["type"] == "http" and (path.startswith(GATEWAY_PREFIX) or path == METRICS_PATH):
        await gateway_application(scope, receive, send)
    else:
        await django_application(scope, receive, send)
