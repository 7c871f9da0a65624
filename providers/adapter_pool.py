"""Provider adapters reused per (config, event loop) instead of one SDK client per call.

Building an SDK client per attempt throws away its connection pool, so every call to a hosted
provider paid a new TCP + TLS handshake, and the clients were never closed. An SDK client is
bound to the event loop it first ran on (its sockets belong to that loop), so adapters are
pooled per running loop; a loop that has since closed is forgotten on the next lookup (its
sockets went with it). Under uvicorn there is one loop per worker, so a config's client lives
as long as the worker.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict

from providers.adapters.base import ProviderAdapter, ProviderConfig
from providers.adapters.registry import get_adapter

log = logging.getLogger(__name__)

# A worker talks to a handful of providers; the cap only guards against keys being rotated
# (each rotation is a new config) without bound.
MAX_ADAPTERS_PER_LOOP = 32

_Adapters = OrderedDict[ProviderConfig, ProviderAdapter]

# id(loop) → (loop, its adapters). The loop is held strongly so its id cannot be reused by
# another loop while the entry exists; closed loops are swept out on each lookup.
_pools: dict[int, tuple[asyncio.AbstractEventLoop, _Adapters]] = {}
# async_to_sync runs loops in other threads, so the shared dict needs a lock.
_lock = threading.Lock()


async def adapter_for(config: ProviderConfig) -> ProviderAdapter:
    """The pooled adapter for `config` on the running loop (built on first use).

    Raises `ValueError` like `registry.get_adapter` for an unknown kind or a missing base URL.
    """
    adapters = _adapters_of(asyncio.get_running_loop())
    adapter = adapters.get(config)
    if adapter is not None:
        adapters.move_to_end(config)
        return adapter
    adapter = get_adapter(config)
    adapters[config] = adapter
    while len(adapters) > MAX_ADAPTERS_PER_LOOP:
        _, evicted = adapters.popitem(last=False)
        await _close(evicted)
    return adapter


async def aclose_all() -> None:
    """Close every adapter pooled on the running loop (tests, and a worker shutting down)."""
    loop = asyncio.get_running_loop()
    with _lock:
        entry = _pools.pop(id(loop), None)
    if entry is not None:
        for adapter in entry[1].values():
            await _close(adapter)


def _adapters_of(loop: asyncio.AbstractEventLoop) -> _Adapters:
    with _lock:
        for key, (other, _) in list(_pools.items()):
            if other.is_closed():
                del _pools[key]
        entry = _pools.get(id(loop))
        if entry is None:
            entry = _pools[id(loop)] = (loop, OrderedDict())
        return entry[1]


async def _close(adapter: ProviderAdapter) -> None:
    close = getattr(adapter, "aclose", None)
    if close is None:
        return
    try:
        await close()
    except Exception:  # closing is best effort: a dead connection must not fail an answer
        log.warning("closing a provider adapter failed", exc_info=True)
