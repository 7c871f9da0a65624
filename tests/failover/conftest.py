"""The failure policy, driven through the real adapters and SDKs against the fake upstream."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from providers import adapter_pool
from providers.adapters.base import ChatMessage, ChatRequest, ProviderConfig
from providers.failover import Candidate, ChainResult, run_chain
from routerweb import clock as clocks
from tests.fake_upstream import FakeUpstream
from tests.fakeclock import FakeClock


@pytest.fixture(autouse=True)
def _policy(settings):
    # Limits as in production; they run on the fake clock (see `clock`).
    settings.FAILOVER_MAX_ATTEMPTS_PER_MODEL = 2
    settings.FAILOVER_BACKOFF_BASE = 0.2
    settings.FAILOVER_BACKOFF_MAX = 2.0
    settings.FAILOVER_MAX_RETRY_AFTER = 5.0
    settings.FAILOVER_CONNECT_TIMEOUT = 5.0
    settings.FAILOVER_FIRST_TOKEN_TIMEOUT = 15.0
    settings.FAILOVER_STALL_TIMEOUT = 20.0
    settings.BREAKER_FAILURE_THRESHOLD = 3
    settings.BREAKER_WINDOW_SECONDS = 60.0
    settings.BREAKER_COOLOFF_SECONDS = 30.0


@pytest.fixture(autouse=True)
def clock(fake_upstream) -> Iterator[FakeClock]:
    """Every wait and deadline of the chain, the breaker and the fake upstream in one virtual
    time: nothing in these tests really waits."""
    fake = FakeClock()
    clocks.install(fake)
    fake_upstream.clock = fake
    yield fake
    fake_upstream.clock = None
    clocks.install(None)


@pytest.fixture(autouse=True)
async def _close_pooled_adapters():
    # SDK clients belong to this test's event loop: close them before it ends.
    yield
    await adapter_pool.aclose_all()


def candidate(fake: FakeUpstream, model: str, kind: str = "openai", **extra) -> Candidate:
    config = ProviderConfig(
        kind=kind,
        base_url=fake.base_url(kind),
        api_key="sk-test-key",
        connect_timeout=5.0,
        read_timeout=30.0,
    )
    return Candidate(ref=f"{kind}/{model}", model_id=model, config=config, **extra)


@dataclass
class Answer:
    result: ChainResult
    chunks: list[str]

    def tried(self) -> list[tuple[str, str | None]]:
        return [(a["model"], a["error"]) for a in self.result.attempts]


async def answer(candidates: list[Candidate], text: str = "Hello there", **options) -> Answer:
    result = ChainResult()
    request = ChatRequest(model="", messages=(ChatMessage("user", text),), system="Be brief.")
    chunks = [chunk async for chunk in run_chain(candidates, request, result, **options)]
    return Answer(result, chunks)


def sent_to(fake: FakeUpstream, model: str) -> int:
    return sum(1 for r in fake.requests if r.model == model)


@pytest.fixture(scope="session", autouse=True)
def _sdks_imported():
    # The registry imports an SDK on first use, which takes seconds; tests that time the
    # policy must not time the import.
    import providers.adapters.anthropic  # noqa: F401
    import providers.adapters.openai  # noqa: F401
