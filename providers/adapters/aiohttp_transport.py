"""The HTTP transport under the OpenAI and Anthropic SDKs: aiohttp, behind the SDKs' own client.

Both SDKs take an `http_client` (an `httpx2.AsyncClient`); given one built on this transport,
they keep doing everything they do for a request (base URL, auth, headers, timeouts, status
errors raised as `APIStatusError`) and only the bytes travel through aiohttp, whose C HTTP
parser costs about half the CPU per call of the default httpx2/h11 transport
(`bench/gateway_overhead.py`).

The SDKs ship an aiohttp transport of their own (`DefaultAioHttpClient`, the `aiohttp` extra);
this one differs where routing depends on it:
- **Failures keep their kind.** The SDKs' transport maps every aiohttp connection error to
  `ConnectTimeout`, so a connection reset or refused looked like a timeout, which the failure
  policy treats differently. Here a timeout is a timeout, a refused connection a
  `ConnectError`, a connection closed before or during the answer a `RemoteProtocolError` /
  `ReadError`, as with httpx2.
- **A stream keeps the provider's pacing.** The body is read one HTTP chunk at a time (a
  provider flushes each event, or each group of events, as one chunk), not as whatever has
  piled up in the buffer, so an answer streams in the pieces the provider sent — as a
  byte-for-byte relay passes them on.
- **The session closes with its event loop.** An `aiohttp.ClientSession` left open when its
  loop ends is reported as an error ("Unclosed client session"); adapters are pooled per loop
  (`providers.adapter_pool`) and short-lived loops (`async_to_sync` in a worker task) end
  without anyone closing them, so the session is closed by a task that waits for the loop's
  end (`asyncio.run`, which uvicorn, asgiref and pytest-asyncio use, cancels it then).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import httpx2
import yarl

# The SDKs' own defaults for their clients (openai/anthropic `_constants.py`).
DEFAULT_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)
_URL_CACHE_SIZE = 256


@contextlib.contextmanager
def _mapped(request: httpx2.Request) -> Iterator[None]:
    """aiohttp's exceptions as the httpx2 ones the SDKs and `transport_error` expect."""
    try:
        yield
    except httpx2.HTTPError:
        raise
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx2.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
    except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
        raise httpx2.ReadTimeout(str(exc) or "read timed out", request=request) from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx2.ConnectError(str(exc), request=request) from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise httpx2.RemoteProtocolError(
            str(exc) or "Server disconnected without sending a response.", request=request
        ) from exc
    except (aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
        raise httpx2.ReadError(str(exc) or type(exc).__name__, request=request) from exc
    except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
        raise httpx2.UnsupportedProtocol(str(exc), request=request) from exc
    except aiohttp.ClientError as exc:
        raise httpx2.NetworkError(str(exc) or type(exc).__name__, request=request) from exc


class _Body(httpx2.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx2.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        with _mapped(self._request):
            try:
                async for data, _ in content.iter_chunks():
                    if data:
                        yield data
            except aiohttp.ClientPayloadError:
                # The connection broke. aiohttp then stops handing over what it had already
                # received (every read raises at once), but that text is what the provider
                # sent before the break: the client may have been a moment behind the socket.
                # It goes on first, then the break — as httpx2 delivers it.
                for data in _received_before_the_break(content):
                    yield data
                raise

    async def aclose(self) -> None:
        # Back to the pool when read to the end; closed when a reader stopped early.
        self._response.release()


def _received_before_the_break(content: aiohttp.StreamReader) -> Iterator[bytes]:
    """What `content` holds unread once its connection broke, one HTTP chunk at a time.

    Reads aiohttp's buffer directly (its reads refuse once an error is set); an aiohttp whose
    reader differs gives nothing here and the break is reported as before."""
    buffer = getattr(content, "_buffer", None)
    splits = getattr(content, "_http_chunk_splits", None)
    cursor = getattr(content, "_cursor", None)
    if not buffer or cursor is None:
        return
    data = b"".join(buffer)[getattr(content, "_buffer_offset", 0) :]
    buffer.clear()
    start = 0
    for split in splits or ():
        end = split - cursor
        if start < end <= len(data):
            yield data[start:end]
            start = end
    if start < len(data):
        yield data[start:]


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """The certificates httpx2 would trust (certifi, or SSL_CERT_FILE/DIR), loaded once per
    process: loading them takes about 20 ms, and a session is made per adapter and event loop —
    a worker task's short-lived loop makes one for each provider it calls. One context serves
    any number of connections."""
    return httpx2.create_ssl_context()


class AiohttpTransport(httpx2.AsyncBaseTransport):
    def __init__(self, *, limits: httpx2.Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None
        self._closer: asyncio.Task[None] | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}
        self._urls: dict[str, yarl.URL] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                keepalive_timeout=self._limits.keepalive_expiry or 5.0,
                ssl=_ssl_context(),
            )
            # httpx2 above keeps the cookies; proxies from the environment are looked up once
            # per host (`_proxy_for`), not by aiohttp's trust_env, which asks a worker thread
            # twice per request (netrc, then the proxy variables).
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
            )
            self._closer = asyncio.get_running_loop().create_task(
                _close_at_loop_end(self._session), name="aiohttp-session-closer"
            )
        return self._session

    def _proxy_for(self, url: httpx2.URL) -> str | None:
        """HTTP(S)_PROXY / ALL_PROXY for this URL unless NO_PROXY exempts its host, as httpx2
        applies them (read once per scheme and host: the environment does not change)."""
        key = (url.scheme, url.host)
        if key not in self._proxies:
            proxies = urllib.request.getproxies_environment()
            proxy = proxies.get(url.scheme) or proxies.get("all")
            if proxy and urllib.request.proxy_bypass(url.host):
                proxy = None
            self._proxies[key] = proxy or None
        return self._proxies[key]

    def _url(self, url: httpx2.URL) -> yarl.URL:
        """The URL as aiohttp's own type, parsed once per distinct URL (a provider calls a
        handful of endpoints; parsing the string again costs more than the rest of the
        request's preparation), as aiohttp would parse it."""
        text = str(url)
        parsed = self._urls.get(text)
        if parsed is None:
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            parsed = self._urls[text] = yarl.URL(text)
        return parsed

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeout: dict[str, Any] = request.extensions.get("timeout", {})
        body = await request.aread()
        with _mapped(request):
            response = await self._client().request(
                request.method,
                self._url(request.url),
                headers=list(request.headers.multi_items()),
                data=body or None,
                allow_redirects=False,  # httpx2 follows them, as the SDKs configure it
                proxy=self._proxy_for(request.url),
                compress=False,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            )
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx2.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        if self._closer is not None:
            self._closer.cancel()
            self._closer = None
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _close_at_loop_end(session: aiohttp.ClientSession) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        if not session.closed:
            await session.close()


def _joined(owner: Any, url: Any, join: Callable[[Any], httpx2.URL]) -> httpx2.URL:
    """`join(url)`, kept per URL string and base URL in `owner`'s bounded memo."""
    if not isinstance(url, str):
        return join(url)
    memo: dict[str, tuple[httpx2.URL, httpx2.URL]] = owner.__dict__.setdefault("_joined_urls", {})
    base = owner.base_url
    hit = memo.get(url)
    if hit is not None and hit[0] is base:
        return hit[1]
    joined = join(url)
    if len(memo) >= _URL_CACHE_SIZE:
        memo.clear()
    memo[url] = (base, joined)
    return joined


class PreparedURLs:
    """For an SDK client: each URL it is asked for is joined to its base URL once.

    An SDK call joins its URL to the base URL (`_prepare_url`), turns the result back into a
    string, and httpx2 parses that string again (`_merge_url`, kept by `_Client` below): two
    full parses of the same few URLs per call (a percent-encoding check of every character,
    the host as an IP address or an IDNA name), about a twentieth of the client's CPU per
    call. A provider is called at a handful of endpoints, so each join is kept, per base URL
    (it depends on it), in a bounded memo; `httpx2.URL` is immutable, so calls may share one."""

    base_url: httpx2.URL

    def _prepare_url(self, url: str) -> httpx2.URL:
        return _joined(self, url, super()._prepare_url)  # type: ignore[misc]


class _Client(httpx2.AsyncClient):
    """httpx2's client, parsing each URL it is given once (see `PreparedURLs`)."""

    def _merge_url(self, url: httpx2.URL | str) -> httpx2.URL:
        return _joined(self, url, super()._merge_url)


def http_client() -> httpx2.AsyncClient:
    """An SDK `http_client` on this transport, with the SDKs' defaults (redirects, limits)."""
    return _Client(transport=AiohttpTransport(), limits=DEFAULT_LIMITS, follow_redirects=True)
