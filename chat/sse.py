"""Server-sent events framing (one event = `event:` line, `data:` lines, blank line)."""

from __future__ import annotations


def sse_event(event: str, data: str) -> bytes:
    # A data field may not contain a newline: each line becomes its own `data:` line and
    # the browser joins them back with "\n".
    lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"event: {event}\n{lines}\n".encode()
