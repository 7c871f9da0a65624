"""ASGI entry point: uvicorn serves this so chat answers can stream.

`/v1/` (the OpenAI-compatible gateway) is served by a second Django handler without the
browser middleware stack: it authenticates with bearer tokens, has no session, cookies, CSRF,
messages or templates, and every `MiddlewareMixin` middleware costs two thread hops per request
under ASGI — about 3 ms that a gateway should not add in front of each model call. Everything
else (pages, htmx, the JSON API, admin) goes through the full stack.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routerweb.settings")

django_application = get_asgi_application()

from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.handlers.exception import convert_exception_to_response  # noqa: E402

GATEWAY_PREFIX = "/v1/"


class GatewayHandler(ASGIHandler):
    """Django's ASGI handler with no middleware: URL resolution, the view, exception handling."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        get_response = self._get_response_async if is_async else self._get_response
        self._middleware_chain = convert_exception_to_response(get_response)


gateway_application = GatewayHandler()


async def application(scope, receive, send):
    if scope["type"] == "http" and scope.get("path", "").startswith(GATEWAY_PREFIX):
        await gateway_application(scope, receive, send)
    else:
        await django_application(scope, receive, send)
