"""Attachment types: every name an attachment can be matched by.

Uploads arrive as an extension ("png", ".PDF", "report.pdf") or a MIME type
("image/png"). A rule author may write either, so each attachment is expanded into all of
its names — extension(s), MIME type and "major/*" — and a condition value matches if it is
one of them. The extension ↔ MIME table is Python's built-in one (`mimetypes` defaults,
without reading the host's /etc/mime.types, so results do not depend on the machine).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable
from functools import cache, lru_cache


@cache
def _table() -> mimetypes.MimeTypes:
    table = mimetypes.MimeTypes()
    # The defaults know "jpg" only as a non-strict alias of image/jpeg in some versions.
    table.add_type("image/jpeg", ".jpg")
    return table


def normalize_type_value(value: str) -> str:
    """The canonical spelling of a condition value: lower case, no leading dot."""
    value = value.strip().lower()
    return value[1:] if value.startswith(".") else value


# Bounded: attachment types come from uploads, so the set of distinct keys is open-ended.
@lru_cache(maxsize=512)
def names_of(attachment: str) -> frozenset[str]:
    """All names of one attachment type, e.g. "jpg" → {jpg, jpeg, jpe, image/jpeg, image/*}."""
    value = normalize_type_value(attachment)
    if not value:
        return frozenset()
    names = {value}
    table = _table()
    if "/" in value:
        mime = value
        major, _, minor = mime.partition("/")
        names.add(minor)
    else:
        ext = value.rsplit(".", 1)[-1]  # "report.pdf" → "pdf"
        names.add(ext)
        mime = table.guess_type("x." + ext, strict=False)[0] or ""
        major = mime.partition("/")[0]
    if mime:
        names.add(mime)
        names.add(f"{major}/*")
        names.update(e.lstrip(".") for e in table.guess_all_extensions(mime, strict=False))
    return frozenset(names)


def attachment_names(attachments: Iterable[str]) -> frozenset[str]:
    names: set[str] = set()
    for attachment in attachments:
        names |= names_of(attachment)
    return frozenset(names)
