"""The aiohttp transport under the OpenAI and Anthropic SDKs (providers/adapters/aiohttp_transport.py).

What it must keep from httpx2's transport — failure kinds and streaming pace — is checked
through the SDKs by the shared adapter tests (tests/providers/test_sdk_adapters.py) and the
failure matrix; here: its session's life, the proxy settings and the headers the SDKs send."""

from __future__ import annotations

import asyncio

import aiohttp
import httpx2
import pytest

from providers.adapters import aiohttp_transport
from providers.adapters.aiohttp_transport import AiohttpTransport
from providers.adapters.base import ChatMessage, ChatRequest, ProviderConfig
from providers.adapters.registry import get_adapter

HELLO = ChatRequest(model="fake-small", messages=(ChatMessage("user", "hello"),))


def _transport_of(adapter) -> AiohttpTransport:
    transport = adapter._client._client._transport
    assert isinstance(transport, AiohttpTransport)
    return transport


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_session_nobody_closed_is_closed_when_its_event_loop_ends(kind, fake_upstream):
    # A worker task answers through async_to_sync: a short-lived loop whose adapters nobody
    # closes. Their aiohttp session must not outlive it: aiohttp reports one collected open
    # as an error ("Unclosed client session"), which it does exactly when `closed` is False.
    adapter = get_adapter(
        ProviderConfig(kind=kind, base_url=fake_upstream.base_url(kind), api_key="test-key")
    )

    async def answer() -> str:
        return (await adapter.complete(HELLO)).text

    assert asyncio.run(answer()).startswith("Fake reply")

    session = _transport_of(adapter)._session
    assert session is not None and session.closed


async def test_closing_the_adapter_closes_its_session(fake_upstream):
    adapter = get_adapter(
        ProviderConfig(kind="openai", base_url=fake_upstream.base_url("openai"), api_key="k")
    )
    await adapter.complete(HELLO)
    session = _transport_of(adapter)._session
    assert session is not None and not session.closed

    await adapter.aclose()

    assert session.closed


def test_proxies_come_from_the_environment_and_no_proxy_exempts_hosts(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "llm.internal,localhost")
    transport = AiohttpTransport()

    assert transport._proxy_for(httpx2.URL("https://provider.example/v1")) == (
        "http://proxy.internal:3128"
    )
    assert transport._proxy_for(httpx2.URL("https://llm.internal/v1")) is None
    assert transport._proxy_for(httpx2.URL("http://localhost:11434/v1")) is None  # no HTTP_PROXY


def test_without_proxy_settings_requests_go_direct(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)

    assert AiohttpTransport()._proxy_for(httpx2.URL("https://provider.example/v1")) is None


async def test_what_arrived_before_a_broken_connection_is_delivered_before_the_break():
    # aiohttp refuses every read once the connection has broken, even of data it already
    # holds; the provider did send that text, and a cut answer is continued from the last
    # text shown, so it must come out first, one HTTP chunk at a time, then the break.
    from types import SimpleNamespace

    from aiohttp.base_protocol import BaseProtocol

    from providers.adapters.aiohttp_transport import _Body

    loop = asyncio.get_running_loop()
    content = aiohttp.StreamReader(BaseProtocol(loop), 2**16, loop=loop)
    events = [b"data: one\n\n", b"data: two\n\n", b"data: three\n\n"]
    for event in events:
        content.begin_http_chunk_receiving()
        content.feed_data(event)
        content.end_http_chunk_receiving()
    received = []
    body = _Body(
        SimpleNamespace(content=content, release=lambda: None),
        httpx2.Request("POST", "http://provider.test/v1/chat/completions"),
    )
    iterator = aiter(body)
    received.append(await anext(iterator))  # the reader was one event behind the socket
    content.set_exception(aiohttp.ClientPayloadError("Response payload is not completed"))

    with pytest.raises(httpx2.ReadError):
        async for data in iterator:
            received.append(data)

    assert received == events


def test_urls_are_parsed_once_each_and_the_memo_stays_small():
    transport = AiohttpTransport()
    first = transport._url(httpx2.URL("http://h:1/v1/chat/completions"))

    assert transport._url(httpx2.URL("http://h:1/v1/chat/completions")) is first
    assert str(first) == "http://h:1/v1/chat/completions"
    for n in range(1000):
        transport._url(httpx2.URL(f"http://h:1/v1/{n}"))
    assert len(transport._urls) <= 256


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_requests_do_not_tell_the_provider_what_the_host_runs(kind, fake_upstream):
    # The SDKs' X-Stainless-* headers carry the host's OS, CPU architecture and Python and SDK
    # versions (and each call's retry count and read timeout): routerweb leaves them out, in
    # answers and streams alike, and keeps what the provider does need.
    adapter = get_adapter(
        ProviderConfig(kind=kind, base_url=fake_upstream.base_url(kind), api_key="test-key")
    )
    await adapter.complete(HELLO)
    async for _ in adapter.stream(HELLO):
        pass
    await adapter.aclose()

    sent = fake_upstream.requests_to(kind)[-2:]
    assert len(sent) == 2
    for request in sent:
        assert [name for name in request.headers if name.startswith("x-stainless")] == []
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"]
        assert request.headers["authorization"] == "Bearer test-key"
        if kind == "anthropic":
            assert request.headers["anthropic-version"]


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_each_url_is_parsed_once_however_many_calls_use_it(kind, fake_upstream, monkeypatch):
    # The SDK joins a call's URL to its base URL and httpx2 parses the joined string again:
    # both are kept, so calls after the first parse no URL at all.
    adapter = get_adapter(
        ProviderConfig(kind=kind, base_url=fake_upstream.base_url(kind), api_key="k")
    )
    await adapter.complete(HELLO)
    parsed: list[str] = []
    real = httpx2._urls.urlparse
    monkeypatch.setattr(
        httpx2._urls, "urlparse", lambda url="", **kw: parsed.append(url) or real(url, **kw)
    )

    for _ in range(3):
        await adapter.complete(HELLO)
        async for _event in adapter.stream(HELLO):
            pass

    assert parsed == []
    assert len(fake_upstream.requests_to(kind)) == 7
    await adapter.aclose()


def test_a_joined_url_is_kept_per_base_url():
    # The join depends on the base URL: a client whose base URL changes joins afresh.
    client = aiohttp_transport.http_client()
    client.base_url = httpx2.URL("http://a:1/v1/")
    first = client._merge_url("chat/completions")
    assert client._merge_url("chat/completions") is first
    assert str(first) == "http://a:1/v1/chat/completions"

    client.base_url = httpx2.URL("http://b:2/api/")
    assert str(client._merge_url("chat/completions")) == "http://b:2/api/chat/completions"
    for n in range(1000):
        client._merge_url(f"/v1/{n}")
    assert len(client._joined_urls) <= 256


async def test_calls_share_the_sdk_options_but_never_a_body(fake_upstream):
    # Every call starts from the adapter's one set of request options: each sends its own
    # body, and none is left behind in the set for the next call.
    adapter = get_adapter(
        ProviderConfig(kind="openai", base_url=fake_upstream.base_url("openai"), api_key="k")
    )
    for text in ("first question", "second question"):
        await adapter.complete(
            ChatRequest(model="fake-small", messages=(ChatMessage("user", text),))
        )
    async for _ in adapter.stream(
        ChatRequest(model="fake-large", messages=(ChatMessage("user", "third"),))
    ):
        pass

    bodies = [r.body for r in fake_upstream.requests_to("openai")[-3:]]
    assert [b["messages"][-1]["content"] for b in bodies] == [
        "first question",
        "second question",
        "third",
    ]
    assert [b["model"] for b in bodies] == ["fake-small", "fake-small", "fake-large"]
    assert [b.get("stream", False) for b in bodies] == [False, False, True]
    assert adapter._call_options.json_data is None
    await adapter.aclose()


async def test_sessions_share_one_set_of_trusted_certificates(monkeypatch):
    # Loading the trusted certificates takes about 20 ms; every session (one per adapter and
    # event loop) uses the one loaded set.
    loaded: list[object] = []
    real = httpx2.create_ssl_context
    monkeypatch.setattr(httpx2, "create_ssl_context", lambda: loaded.append(1) or real())
    aiohttp_transport._ssl_context.cache_clear()
    transports = [AiohttpTransport() for _ in range(3)]
    contexts = {id(transport._client().connector._ssl) for transport in transports}
    for transport in transports:
        await transport.aclose()
    assert len(loaded) == 1 and len(contexts) == 1
