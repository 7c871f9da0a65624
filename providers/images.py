"""Limits on the images of one message, shared by the chat and the /v1 gateway.

Settings: MAX_IMAGES_PER_MESSAGE, MAX_IMAGES_TOTAL_BYTES, MAX_IMAGE_PIXELS (and
MAX_IMAGE_BYTES for one image, checked where the bytes arrive).
"""

from __future__ import annotations

from django.conf import settings


def image_size_problem(width: int, height: int) -> str | None:
    """Why an image of this size is refused (None if it is not): decoding it would take
    width × height × 4 bytes of memory, so a tiny file can declare a huge one (a
    "decompression bomb")."""
    if width * height > settings.MAX_IMAGE_PIXELS:
        return (
            f"is {width:,} × {height:,} pixels; the limit is "
            f"{settings.MAX_IMAGE_PIXELS / 1_000_000:g} million pixels"
        )
    return None


def images_problem(sizes: list[int]) -> str | None:
    """Why a message with images of these byte sizes is refused (None if it is not)."""
    if len(sizes) > settings.MAX_IMAGES_PER_MESSAGE:
        return (
            f"A message may carry at most {settings.MAX_IMAGES_PER_MESSAGE} images; "
            f"this one has {len(sizes)}."
        )
    total = sum(sizes)
    if total > settings.MAX_IMAGES_TOTAL_BYTES:
        mb = 1024 * 1024
        return (
            f"The images of a message may total at most {settings.MAX_IMAGES_TOTAL_BYTES / mb:.0f} MB; "
            f"these total {total / mb:.1f} MB."
        )
    return None
