"""How `/v1` calls the upstream: a non-streaming request is not streamed from the model."""

from __future__ import annotations

import openai
import pytest


@pytest.fixture
def client(live_url, owner, token_for):
    return openai.OpenAI(
        base_url=f"{live_url}/v1", api_key=token_for(owner), max_retries=0, timeout=10
    )


def test_a_non_streaming_request_is_sent_to_the_model_without_streaming(
    client, fake_router, fake_upstream
):
    completion = client.chat.completions.create(
        model="router:fake-router", messages=[{"role": "user", "content": "hello"}]
    )
    assert completion.choices[0].message.content == "Fake reply from fake-small: hello"
    sent = fake_upstream.requests_to("openai")[-1].body
    assert not sent.get("stream") and "stream_options" not in sent
    assert completion.usage.completion_tokens == 3 + len(
        completion.choices[0].message.content.split()
    )


def test_a_streaming_request_is_streamed_from_the_model(client, fake_router, fake_upstream):
    chunks = list(
        client.chat.completions.create(
            model="router:fake-router",
            messages=[{"role": "user", "content": "hello"}],
            stream=True,
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert fake_upstream.requests_to("openai")[-1].body.get("stream") is True
