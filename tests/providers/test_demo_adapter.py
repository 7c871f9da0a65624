"""The offline demo provider: deterministic, honest, streaming, and a simulated classifier."""

from __future__ import annotations

import pytest

from engine.classifier import CLOSE, NONE_LABEL, OPEN
from providers.adapters.base import ChatMessage, ChatRequest, ProviderConfig, TextDelta, Usage
from providers.adapters.demo import DemoAdapter, chunk_delay
from tests.providers._helpers import collect, text_of

ASK = ChatRequest(
    model="fast", messages=(ChatMessage("user", "How do I reverse a list in Python?"),)
)


def demo() -> DemoAdapter:
    return DemoAdapter(ProviderConfig(kind="demo"))


async def test_it_says_plainly_that_the_answer_is_simulated():
    completion = await demo().complete(ASK)

    assert completion.text.startswith(
        "[Simulated answer from demo model `fast` — no real LLM was called.]"
    )


async def test_it_reflects_the_message_so_routing_is_visible():
    completion = await demo().complete(ASK)

    assert '"How do I reverse a list in Python?"' in completion.text
    assert "8 words" in completion.text
    assert "a question" in completion.text


async def test_it_notices_code():
    request = ChatRequest(
        model="smart", messages=(ChatMessage("user", "def f(x):\n    return x * 2"),)
    )

    completion = await demo().complete(request)

    assert "It looks like code." in completion.text


async def test_the_same_input_gives_the_same_output():
    first = await demo().complete(ASK)
    second = await demo().complete(ASK)
    other = await demo().complete(ChatRequest(model="fast", messages=(ChatMessage("user", "Hi"),)))

    assert first == second
    assert other.text != first.text


async def test_it_streams_word_by_word_and_ends_with_an_estimated_usage():
    events = await collect(demo().stream(ASK))
    completion = await demo().complete(ASK)

    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) == len(completion.text.split())
    assert text_of(events) == completion.text
    assert events[-1] == completion.usage
    assert isinstance(events[-1], Usage) and events[-1].estimated is True


async def test_the_chunk_delay_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEMO_CHUNK_DELAY", "0.05")
    assert chunk_delay() == 0.05
    monkeypatch.delenv("DEMO_CHUNK_DELAY")
    assert chunk_delay() == 0.02
    monkeypatch.setenv("DEMO_CHUNK_DELAY", "soon")
    with pytest.raises(ValueError, match="DEMO_CHUNK_DELAY"):
        chunk_delay()


def classifier_request(message: str) -> ChatRequest:
    # The shape engine.classifier builds: labelled rules in the system prompt,
    # the excerpt between delimiter lines in the user message.
    system = (
        "Decide which ONE of the rules below applies.\n\nRules:\n"
        "r1: questions about contracts, law or compliance\n"
        "r2: programming, code review and debugging\n"
        f"{NONE_LABEL}: none of the rules applies\n\n"
        "Answer with exactly one label — r1, r2 or none — and nothing else."
    )
    user = f"Classify this excerpt:\n{OPEN}\n[new message] {message}\n{CLOSE}\nAnswer with one label: r1, r2 or none."
    return ChatRequest(
        model="fast",
        messages=(ChatMessage("user", user),),
        system=system,
        temperature=0.0,
        choices=("r1", "r2", NONE_LABEL),
    )


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Can you review this contract for compliance issues?", "r1"),
        ("Help me with debugging this code", "r2"),
        ("What a lovely sunny afternoon", "none"),
    ],
)
async def test_it_simulates_classification_by_word_overlap(message, expected):
    completion = await demo().complete(classifier_request(message))
    events = await collect(demo().stream(classifier_request(message)))

    assert completion.text == expected
    assert text_of(events) == expected
    assert completion.usage.estimated is True


async def test_it_lists_its_simulated_models():
    assert await demo().list_models() == ["fast", "smart"]
