"""The floor: a bare OpenAI relay (starlette + httpx), for `bench/gateway_overhead.py`.

    RELAY_UPSTREAM=http://127.0.0.1:9999/v1 uvicorn bench.relay:app --port 8601

It forwards `POST /v1/chat/completions` to the upstream byte for byte — no auth, no routing,
no logging, no parsing — and streams the answer back as it arrives. That is what any Python
gateway pays on a machine (an ASGI server, one more HTTP hop, one more client connection), so
routerweb's overhead is judged against it in the same run rather than against zero.
"""

from __future__ import annotations

import os

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

_client = httpx.AsyncClient(
    base_url=os.environ.get("RELAY_UPSTREAM", "http://127.0.0.1:9999/v1"),
    timeout=60,
    limits=httpx.Limits(max_connections=128, max_keepalive_connections=128),
)


async def chat_completions(request: Request) -> Response:
    body = await request.body()
    upstream = await _client.send(
        _client.build_request(
            "POST",
            "/chat/completions",
            content=body,
            headers={
                "content-type": "application/json",
                "authorization": request.headers.get("authorization", ""),
            },
        ),
        stream=True,
    )
    content_type = upstream.headers.get("content-type", "application/json")
    if content_type.startswith("text/event-stream"):
        return StreamingResponse(
            upstream.aiter_raw(),
            status_code=upstream.status_code,
            media_type="text/event-stream",
            background=BackgroundTask(upstream.aclose),
        )
    content = await upstream.aread()
    await upstream.aclose()
    return Response(content, status_code=upstream.status_code, media_type=content_type)


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/healthz", healthz),
    ]
)
