"""Requests per minute per person and per token, and streams at once per person: 429 with
retry-after in OpenAI's shape."""

from __future__ import annotations

import openai
import pytest

from tests.fakeclock import FakeClock


@pytest.fixture
def clock():
    from routerweb import clock as clocks

    fake = FakeClock(start=1_800_000_000.0)  # on a minute boundary: the window is 60 s long
    clocks.install(fake)
    yield fake
    clocks.install(None)


def client_for(live_url, token):
    return openai.OpenAI(base_url=f"{live_url}/v1", api_key=token, max_retries=0, timeout=10)


def ask(client):
    return client.chat.completions.create(
        model="router:fake-router", messages=[{"role": "user", "content": "hi"}]
    )


def test_a_token_over_its_requests_per_minute_gets_429_with_retry_after(
    live_url, owner, token_for, fake_router, fake_upstream, settings, clock
):
    settings.RATE_LIMIT_TOKEN_RPM = 2
    client = client_for(live_url, token_for(owner))
    second = client_for(live_url, token_for(owner, name="second"))
    ask(client)
    ask(client)
    clock.advance(15)
    sent = len(fake_upstream.requests)
    with pytest.raises(openai.RateLimitError) as caught:
        ask(client)
    assert caught.value.body["code"] == "rate_limit_exceeded"
    assert "at most 2 per minute per API token" in caught.value.body["message"]
    # Seconds to the end of the minute (45 unless something else moved the fake clock on).
    assert int(caught.value.response.headers["retry-after"]) == 60 - int(clock.now % 60)
    assert len(fake_upstream.requests) == sent, "a refused call reaches no model"
    # Another token of the same person has its own count; the next minute starts afresh.
    ask(second)
    clock.advance(60 - clock.now % 60)
    ask(client)


def test_a_person_over_their_requests_per_minute_is_limited_across_tokens(
    live_url, owner, token_for, fake_router, fake_upstream, settings, clock
):
    settings.RATE_LIMIT_USER_RPM = 1
    first, second = (client_for(live_url, token_for(owner, name=n)) for n in ("first", "second"))
    ask(first)
    with pytest.raises(openai.RateLimitError, match="per person"):
        ask(second)


def test_one_stream_at_a_time_when_the_limit_is_one(
    live_url, owner, token_for, fake_router, fake_upstream, settings
):
    settings.MAX_CONCURRENT_STREAMS_PER_USER = 1
    client = client_for(live_url, token_for(owner))
    fake_upstream.script("fake-small", times=1, stall_after_chunks=1, stall_seconds="forever")
    first = client.chat.completions.create(
        model="router:fake-router", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    next(iter(first))  # the first answer is streaming
    with pytest.raises(openai.RateLimitError, match="at most 1 streaming per person"):
        client.chat.completions.create(
            model="router:fake-router", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    assert ask(client).choices[0].message.content, "non-streaming calls are not counted"
    first.close()  # the client leaves: the slot is given back
    from tests.api.conftest import wait_for

    def streams_again():
        try:
            stream = client.chat.completions.create(
                model="router:fake-router",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
            )
        except openai.RateLimitError:
            return False
        return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    assert wait_for(streams_again)
