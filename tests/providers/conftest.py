"""Provider tests run against the fake upstream server on loopback, through the real SDKs."""

from __future__ import annotations

import pytest

from tests.fake_upstream.fixtures import fake_upstream, fake_upstream_server  # noqa: F401


@pytest.fixture(autouse=True)
def _no_demo_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    # The demo provider pauses between words to look like streaming; tests need no theatre.
    monkeypatch.setenv("DEMO_CHUNK_DELAY", "0")


@pytest.fixture
async def make_adapter(fake_upstream):  # noqa: F811 - the imported fixture, used by name
    """Build an adapter of `kind` pointed at the fake upstream."""
    from providers.adapters.base import ProviderConfig
    from providers.adapters.registry import get_adapter

    built = []

    def build(kind: str, **overrides):
        config = {
            "kind": kind,
            "base_url": fake_upstream.base_url(kind) if kind != "demo" else "",
            "api_key": "test-key",
            # Far beyond any answer of the fake upstream, on a loaded machine too: a test of a
            # timeout passes its own short limit against an upstream that holds until the
            # client hangs up (0.5 s had fired mid-answer under load: a flaky 'timeout').
            "connect_timeout": 10.0,
            "read_timeout": 10.0,
        } | overrides
        adapter = get_adapter(ProviderConfig(**config))
        built.append(adapter)
        return adapter

    yield build
    # Close the SDK clients on this test's event loop; left to the garbage collector they
    # would try to close their connections on a later test's loop.
    for adapter in built:
        await adapter.aclose()
