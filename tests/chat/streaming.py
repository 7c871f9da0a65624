"""Read a server-sent-events response from the test client into (event, data) pairs."""

from __future__ import annotations

from asgiref.sync import async_to_sync


def sse_events(response) -> list[tuple[str, str]]:
    async def collect() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    body = async_to_sync(collect)().decode()
    events = []
    for block in body.split("\n\n"):
        name, data = "", []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if name:
            events.append((name, "\n".join(data)))
    return events
