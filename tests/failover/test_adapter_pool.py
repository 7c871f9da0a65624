"""Adapters (and their SDK clients) are reused per config on a loop, and closed on request."""

from __future__ import annotations

from providers import adapter_pool
from providers.adapters.base import ProviderConfig
from tests.failover.conftest import answer, candidate


async def test_the_same_config_gets_the_same_adapter_on_one_loop():
    config = ProviderConfig(kind="demo")

    first = await adapter_pool.adapter_for(config)
    again = await adapter_pool.adapter_for(ProviderConfig(kind="demo"))
    other = await adapter_pool.adapter_for(ProviderConfig(kind="demo", api_key="another"))

    assert first is again
    assert other is not first


async def test_retries_and_later_messages_reuse_one_sdk_client(fake_upstream):
    fake_upstream.script(model="primary", times=1, status=500)
    chain = [candidate(fake_upstream, "primary")]
    adapter = await adapter_pool.adapter_for(chain[0].config)

    await answer(chain)
    client = adapter._client
    await answer(chain)

    assert adapter._client is client


async def test_closing_the_pool_closes_the_sdk_clients(fake_upstream):
    chain = [candidate(fake_upstream, "primary")]
    await answer(chain)
    adapter = await adapter_pool.adapter_for(chain[0].config)
    client = adapter._client

    await adapter_pool.aclose_all()

    assert client.is_closed()
    assert await adapter_pool.adapter_for(chain[0].config) is not adapter


async def test_a_listener_that_goes_away_closes_the_upstream_stream(fake_upstream):
    from providers.adapters.base import ChatMessage, ChatRequest
    from providers.failover import ChainResult, run_chain

    fake_upstream.script(reply="one two three four", stall_after_chunks=1, stall_seconds=0.2)
    chain = [candidate(fake_upstream, "primary")]
    adapter = await adapter_pool.adapter_for(chain[0].config)
    upstream_closed = []
    real_stream = adapter.stream

    async def watched_stream(request):
        try:
            async for event in real_stream(request):
                yield event
        finally:
            upstream_closed.append(True)

    adapter.stream = watched_stream
    request = ChatRequest(model="", messages=(ChatMessage("user", "hi"),))
    result = ChainResult()
    stream = run_chain(chain, request, result)

    assert await anext(stream) == "one "
    assert upstream_closed == []
    await stream.aclose()

    assert upstream_closed == [True]
    assert result.text == "one " and not result.complete
    assert len(fake_upstream.requests) == 1
