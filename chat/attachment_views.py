"""Attached files, served through an access check (never from a public media URL), in
development and production alike."""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from chat.selectors import attachment_get_for_user
from routerweb.http import HtmxHttpRequest

# Shown inline only when the stored type is one of these (it was checked by decoding the
# image on upload); anything else downloads, so no upload can render as a page.
_INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@require_GET
def attachment_file(request: HtmxHttpRequest, pk: int) -> FileResponse:
    attachment = attachment_get_for_user(user=request.user, pk=pk)
    inline = attachment.mime_type in _INLINE_TYPES
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is gone.") from None
    response = FileResponse(
        handle,
        content_type=attachment.mime_type if inline else "application/octet-stream",
        as_attachment=not inline,
        filename=str(attachment.file.name).rsplit("/", 1)[-1],
    )
    # Private to the person reading it: no shared cache may keep a copy.
    response["Cache-Control"] = "private, max-age=3600"
    return response
