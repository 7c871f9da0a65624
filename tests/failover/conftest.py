"""The failure policy, driven through the real adapters and SDKs against the fake upstream."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from providers import adapter_pool
from providers.adapters.base import ChatMessage, ChatRequest, ProviderConfig
from providers.failover import Candidate, ChainResult, run_chain
from tests.fake_upstream import FakeUpstream


@pytest.fixture(autouse=True)
def _quick_policy(settings):
    # Short waits and limits so each behaviour is visible in well under a second.
    settings.FAILOVER_MAX_ATTEMPTS_PER_MODEL = 2
    settings.FAILOVER_BACKOFF_BASE = 0.01
    settings.FAILOVER_BACKOFF_MAX = 0.05
    settings.FAILOVER_MAX_RETRY_AFTER = 1.0
    settings.FAILOVER_CONNECT_TIMEOUT = 0.5
    settings.FAILOVER_FIRST_TOKEN_TIMEOUT = 0.6
    settings.FAILOVER_STALL_TIMEOUT = 0.3
    settings.BREAKER_FAILURE_THRESHOLD = 3
    settings.BREAKER_WINDOW_SECONDS = 60.0
    settings.BREAKER_COOLOFF_SECONDS = 0.3


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
        connect_timeout=0.5,
        read_timeout=5.0,
    )
    return Candidate(ref=f"{kind}/{model}", model_id=model, config=config, **extra)


@dataclass
class Answer:
    result: ChainResult
    chunks: list[str]
    elapsed: float

    def tried(self) -> list[tuple[str, str | None]]:
        return [(a["model"], a["error"]) for a in self.result.attempts]


async def answer(candidates: list[Candidate], text: str = "Hello there", **options) -> Answer:
    result = ChainResult()
    request = ChatRequest(model="", messages=(ChatMessage("user", text),), system="Be brief.")
    started = time.monotonic()
    chunks = [chunk async for chunk in run_chain(candidates, request, result, **options)]
    return Answer(result, chunks, time.monotonic() - started)


def sent_to(fake: FakeUpstream, model: str) -> int:
    return sum(1 for r in fake.requests if r.model == model)


@pytest.fixture(scope="session", autouse=True)
def _sdks_imported():
    # The registry imports an SDK on first use, which takes seconds; tests that time the
    # policy must not time the import.
    import providers.adapters.anthropic  # noqa: F401
    import providers.adapters.openai  # noqa: F401
