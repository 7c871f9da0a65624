"""The request the app's HTML views receive, typed for mypy.

`LoginRequiredMiddleware` (see settings.MIDDLEWARE) lets only signed-in users reach a view
not marked `login_not_required`, so `user` is an `accounts.models.User`, never anonymous;
`HtmxMiddleware` sets `htmx`. At run time views still get Django's own `HttpRequest`: this
class only annotates them. Views marked `login_not_required` take a plain `HttpRequest`.
"""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from accounts.models import User


class HtmxHttpRequest(HttpRequest):
    user: User
    htmx: HtmxDetails
