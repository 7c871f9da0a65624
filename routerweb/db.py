"""Database work from async code.

Django opens and recycles connections per request through its `request_started` and
`request_finished` signals. Async code on a hot path (the `/v1` gateway, which skips those
signals to avoid their thread hops, see `routerweb.asgi`) runs its ORM work through
`run_db` instead: on a worker thread of the default pool (one connection per thread, kept
per `CONN_MAX_AGE`), with the same recycling before and after that a request would get.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections


def recycling_connections[**P, T](fn: Callable[P, T]) -> Callable[P, T]:
    """`fn` wrapped to recycle this thread's connections before and after, as per request
    (also used by the decision-logging thread in gateway/v1.py)."""

    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()

    return call


async def run_db[T](fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` on a worker thread, connections recycled as per request."""
    return await sync_to_async(recycling_connections(fn), thread_sensitive=False)(*args, **kwargs)
