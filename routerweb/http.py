"""The request the app's HTML views receive, typed for mypy.

`LoginRequiredMiddleware` (see settings.MIDDLEWARE) lets only signed-in users reach a view
not marked `login_not_required`, so `user` is an `accounts.models.User`, never anonymous;
`HtmxMiddleware` sets `htmx`. At run time views still get Django's own `HttpRequest`: this
class only annotates them. Views marked `login_not_required` take a plain `HttpRequest`.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from django.core.exceptions import BadRequest
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from accounts.models import User


class HtmxHttpRequest(HttpRequest):
    user: User
    htmx: HtmxDetails


_ID = re.compile(r"[0-9]{1,18}")


def id_param(value: str | None, name: str) -> int | None:
    """A record id sent in a form or query string: None when absent, else a whole number.

    Anything else ("abc", "1.5", a NUL byte, a number no id column can hold) is the client's
    mistake: a 400 saying which parameter, never a ValueError that becomes a 500.
    """
    if value is None or value == "":
        return None
    if not _ID.fullmatch(value):
        raise BadRequest(f"'{name}' must be a record id (a whole number).")
    return int(value)


def whole_number(value: object) -> int | None:
    """`value` as a whole number if it is one an id column can hold ("12"), else None.

    Not `str.isdigit()`: it accepts "²" and other Unicode digits that `int()` refuses, and
    any number of digits (past 4,300 `int()` refuses those too)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value < 10**18 else None
    if isinstance(value, str) and _ID.fullmatch(value.strip()):
        return int(value)
    return None


# Printable ASCII but "%": kept as is, so ordinary names read the same in a header.
_HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def header_value(text: str, *, reserved: str = "") -> str:
    """Any text as a valid HTTP header value: UTF-8, percent-encoded outside printable ASCII.

    A line break would otherwise make Django refuse the whole response (after a model has
    already answered), and other characters would be MIME-encoded or rejected; names come
    from the database, where a row may predate any validation. "%" itself is always encoded
    (`%25`), so `urllib.parse.unquote` gives back exactly the text, for every `x-routerweb-*`
    header alike (the RFC 8187 idea — UTF-8, then percent-encoding — without its
    `UTF-8''` prefix, as these headers are always UTF-8). `reserved` characters are encoded
    too: the separators of a structured value, when `text` is one field of it.
    """
    safe = "".join(c for c in _HEADER_SAFE if c not in reserved) if reserved else _HEADER_SAFE
    return quote(text, safe=safe)


def attachment(filename: str) -> str:
    """A Content-Disposition value for a download named after user data (a slug, say)."""
    return f'attachment; filename="{quote(filename, safe="-_.")}"'
