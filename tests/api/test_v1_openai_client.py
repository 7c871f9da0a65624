"""`/v1` through the official `openai` SDK against the app under uvicorn, models on the fake upstream."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import httpx
import openai
import pytest

from decisions.models import RoutingDecision
from tests.api.conftest import wait_for

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
def client(live_url, owner, token_for):
    return openai.OpenAI(
        base_url=f"{live_url}/v1", api_key=token_for(owner), max_retries=0, timeout=10
    )


@pytest.fixture
def aclient(live_url, owner, token_for):
    return openai.AsyncOpenAI(
        base_url=f"{live_url}/v1", api_key=token_for(owner), max_retries=0, timeout=10
    )


def decision(uid: str) -> RoutingDecision:
    found = wait_for(lambda: RoutingDecision.objects.filter(uid=uid).first())
    assert found is not None, f"decision {uid} was never logged"
    return found


def test_a_router_answers_a_non_streaming_request_with_usage_and_routing_headers(
    client, fake_router, fake_upstream, owner
):
    raw = client.chat.completions.with_raw_response.create(
        model="router:fake-router",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Why does my python code fail?"},
        ],
        temperature=0.3,
        max_tokens=50,
    )
    completion = raw.parse()
    assert completion.model == "fake/fake-large"
    assert (
        completion.choices[0].message.content
        == "Fake reply from fake-large: Why does my python code fail?"
    )
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert raw.headers["x-routerweb-model"] == "fake/fake-large"
    assert raw.headers["x-routerweb-rule"] == "Code"

    sent = fake_upstream.requests_to("openai")[-1].body
    assert sent["model"] == "fake-large"
    assert sent["temperature"] == 0.3
    assert 50 in (sent.get("max_tokens"), sent.get("max_completion_tokens"))
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}

    logged = decision(raw.headers["x-routerweb-decision"])
    assert logged.channel == "api" and logged.user_id == owner.pk
    assert (
        logged.router_id == fake_router.pk
        and logged.router_version == fake_router.published_version.number
    )
    assert logged.rule_name == "Code" and logged.answered_by == "fake/fake-large"
    assert logged.input_tokens == completion.usage.prompt_tokens
    assert logged.output_tokens == completion.usage.completion_tokens
    # fake-large costs 10/30 per million, the primary fake-small 1/2.
    expected = (Decimal(10) * logged.input_tokens + Decimal(30) * logged.output_tokens) / Decimal(
        1_000_000
    )
    assert logged.cost == expected.quantize(Decimal("0.000001"))
    assert Decimal(0) < logged.primary_cost < logged.cost
    assert logged.succeeded and not logged.fallback_used
    assert [a["ok"] for a in logged.attempts] == [True]


def test_no_matching_rule_means_the_primary_model_and_an_empty_rule_header(client, fake_router):
    raw = client.chat.completions.with_raw_response.create(
        model="fake-router", messages=[{"role": "user", "content": "Hello there"}]
    )
    assert raw.parse().model == "fake/fake-small"
    assert raw.headers["x-routerweb-rule"] == ""
    assert decision(raw.headers["x-routerweb-decision"]).source == "primary"


def test_streaming_delivers_chunks_then_a_usage_chunk(client, fake_router):
    stream = client.chat.completions.create(
        model="router:fake-router",
        messages=[{"role": "user", "content": "one two three four five six"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(texts) > 3, "the answer arrives in several chunks"
    assert "".join(texts) == "Fake reply from fake-small: one two three four five six"
    assert all(c.model == "fake/fake-small" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens > 0
    assert len({c.id for c in chunks}) == 1


def test_streaming_without_include_usage_sends_no_usage_chunk(client, fake_router):
    chunks = list(
        client.chat.completions.create(
            model="router:fake-router",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
        )
    )
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)


async def test_the_async_client_streams_and_completes(aclient, fake_router):
    completion = await aclient.chat.completions.create(
        model="router:fake-router", messages=[{"role": "user", "content": "a python traceback"}]
    )
    assert completion.model == "fake/fake-large"
    stream = await aclient.chat.completions.create(
        model="router:fake-router",
        messages=[{"role": "user", "content": "plain words"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    texts = []
    usage = None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            texts.append(chunk.choices[0].delta.content)
        usage = chunk.usage or usage
    assert "".join(texts) == "Fake reply from fake-small: plain words"
    assert usage is not None and usage.completion_tokens > 0


@pytest.mark.parametrize("status", [429, 500])
def test_a_failing_model_falls_back_and_the_response_says_who_answered(
    client, fake_router, fake_upstream, status
):
    fake_upstream.script(model="fake-large", status=status)
    raw = client.chat.completions.with_raw_response.create(
        model="router:fake-router", messages=[{"role": "user", "content": "python question"}]
    )
    completion = raw.parse()
    assert completion.model == "fake/fake-small"
    assert completion.choices[0].message.content.startswith("Fake reply from fake-small")
    assert raw.headers["x-routerweb-model"] == "fake/fake-small"
    assert raw.headers["x-routerweb-rule"] == "Code"
    logged = decision(raw.headers["x-routerweb-decision"])
    assert logged.fallback_used and logged.succeeded
    assert [(a["model"], a["ok"]) for a in logged.attempts][-1] == ("fake/fake-small", True)
    assert ("fake/fake-large", False) in [(a["model"], a["ok"]) for a in logged.attempts]


def test_a_streamed_fallback_names_the_fallback_in_headers_and_chunks(
    client, fake_router, fake_upstream
):
    fake_upstream.script(model="fake-large", status=500)
    raw = client.chat.completions.with_raw_response.create(
        model="router:fake-router", messages=[{"role": "user", "content": "python"}], stream=True
    )
    assert raw.headers["x-routerweb-model"] == "fake/fake-small"
    chunks = list(raw.parse())
    assert {c.model for c in chunks} == {"fake/fake-small"}


def test_every_model_rate_limited_is_a_429(client, fake_router, fake_upstream):
    fake_upstream.script(status=429)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="router:fake-router", messages=[{"role": "user", "content": "python"}]
        )
    assert caught.value.body["code"] == "rate_limit_exceeded"


def test_every_model_failing_is_an_upstream_error(client, fake_router, fake_upstream):
    fake_upstream.script(status=500)
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(
            model="router:fake-router", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    assert caught.value.status_code in (502, 503)
    assert caught.value.body["code"] == "upstream_error"
    logged = wait_for(lambda: RoutingDecision.objects.filter(succeeded=False).first())
    assert logged is not None and logged.answered_by == ""


def test_a_stream_cut_off_after_text_ends_with_an_error_event_and_no_done(
    live_url, owner, token_for, fake_router, fake_upstream
):
    fake_upstream.script(model="fake-small", drop_after_chunks=2)
    with httpx.stream(
        "POST",
        f"{live_url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {token_for(owner)}"},
        json={
            "model": "router:fake-router",
            "messages": [{"role": "user", "content": "one two three four"}],
            "stream": True,
        },
        timeout=10,
    ) as response:
        assert response.status_code == 200
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert "[DONE]" not in events
    error = json.loads(events[-1])["error"]
    assert error["code"] == "answer_cut_off" and "cut off" in error["message"]
    assert json.loads(events[1])["choices"][0]["delta"]["content"]  # text came first


def test_a_model_ref_calls_only_that_model(client, fake_models, fake_upstream):
    completion = client.chat.completions.create(
        model="fake/fake-vision", messages=[{"role": "user", "content": "hello"}]
    )
    assert completion.model == "fake/fake-vision"
    assert [r.body["model"] for r in fake_upstream.requests_to("openai")] == ["fake-vision"]


def test_an_image_data_url_reaches_the_model_and_routes_by_image(
    client, fake_router, fake_upstream
):
    url = "data:image/png;base64," + base64.b64encode(PNG_1X1).decode()
    raw = client.chat.completions.with_raw_response.create(
        model="router:fake-router",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            }
        ],
    )
    assert raw.headers["x-routerweb-rule"] == "Images"
    assert raw.parse().model == "fake/fake-vision"
    sent = fake_upstream.requests_to("openai")[-1].body["messages"][-1]["content"]
    image_parts = [p for p in sent if p.get("type") == "image_url"]
    assert (
        len(image_parts) == 1
        and base64.b64encode(PNG_1X1).decode() in image_parts[0]["image_url"]["url"]
    )


def test_earlier_messages_are_history_and_the_last_user_message_is_routed(
    client, fake_router, fake_upstream
):
    raw = client.chat.completions.with_raw_response.create(
        model="router:fake-router",
        messages=[
            {"role": "user", "content": "python?"},
            {"role": "assistant", "content": "Yes."},
            {"role": "user", "content": "thanks, bye"},
        ],
    )
    # "python" is only in the history: the new message routes to the primary.
    assert raw.headers["x-routerweb-rule"] == ""
    assert [m["role"] for m in fake_upstream.requests_to("openai")[-1].body["messages"]] == [
        "user",
        "assistant",
        "user",
    ]


def test_a_bad_token_is_an_authentication_error(live_url, fake_router):
    bad = openai.OpenAI(base_url=f"{live_url}/v1", api_key="rw_not-a-real-token", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(
            model="router:fake-router", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_a_revoked_token_stops_working(live_url, owner, fake_router):
    from accounts.tokens import api_token_create, api_token_revoke

    token, plaintext = api_token_create(user=owner, name="soon gone")
    client = openai.OpenAI(base_url=f"{live_url}/v1", api_key=plaintext, max_retries=0)
    assert client.models.list().data
    api_token_revoke(token=token)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_unknown_models_and_other_peoples_private_routers_are_not_found(
    live_url, fake_router, teammate, token_for
):
    client = openai.OpenAI(base_url=f"{live_url}/v1", api_key=token_for(teammate), max_retries=0)
    for model in (
        "router:fake-router",
        "fake-router",
        "router:nope",
        "fake/not-a-model",
        "nope/nope",
    ):
        with pytest.raises(openai.NotFoundError) as caught:
            client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi"}]
            )
        assert caught.value.body["code"] == "model_not_found", model


def test_models_lists_usable_routers_and_catalog_models(
    live_url, fake_router, owner, teammate, token_for
):
    mine = openai.OpenAI(base_url=f"{live_url}/v1", api_key=token_for(owner), max_retries=0)
    theirs = openai.OpenAI(base_url=f"{live_url}/v1", api_key=token_for(teammate), max_retries=0)
    owned = {m.id: m.owned_by for m in mine.models.list()}
    assert owned["router:fake-router"] == "routerweb"
    assert owned["fake/fake-small"] == "fake"
    assert "router:fake-router" not in {m.id for m in theirs.models.list()}
    assert "fake/fake-small" in {m.id for m in theirs.models.list()}


def test_a_client_that_leaves_mid_stream_stops_the_model_call_and_is_still_logged(
    live_url, owner, token_for, fake_router, fake_upstream
):
    # The model stalls until the client hangs up: only our leaving can end this call.
    fake_upstream.script(model="fake-small", stall_after_chunks=1)
    with (
        httpx.Client(timeout=10) as http,
        http.stream(
            "POST",
            f"{live_url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {token_for(owner)}"},
            json={
                "model": "router:fake-router",
                "stream": True,
                "messages": [{"role": "user", "content": "Hello there, how are you today?"}],
            },
        ) as response,
    ):
        uid = response.headers["x-routerweb-decision"]
        for line in response.iter_lines():
            if '"content": "Fake' in line:
                break  # the first words arrived; the model now stalls, and we leave
    logged = decision(uid)
    # Logged at once (`decision` waits briefly), so the server stopped when we left rather
    # than waiting for the stall limit (20 s).
    assert logged.channel == "api"
    assert logged.answered_by == "fake/fake-small" and not logged.succeeded, "cut off, not answered"
    [attempt] = logged.attempts
    assert attempt["error"] == "stopped" and not attempt["ok"] and attempt["streamed_chars"] > 0


@pytest.mark.parametrize("stream", [False, True])
def test_an_answers_usage_and_cost_are_worked_out_once(client, fake_router, monkeypatch, stream):
    """The answer's usage, its logged decision and its span share one computation."""
    from gateway import v1

    computed = []
    outcome_of = v1.outcome_of

    def counted(plan, result):
        computed.append(plan.uid)
        return outcome_of(plan, result)

    monkeypatch.setattr(v1, "outcome_of", counted)
    raw = client.chat.completions.with_raw_response.create(
        model="router:fake-router",
        messages=[{"role": "user", "content": "hi"}],
        stream=stream,
        **({"stream_options": {"include_usage": True}} if stream else {}),
    )
    uid = raw.headers["x-routerweb-decision"]
    if stream:
        chunks = list(raw.parse())
        assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    else:
        assert raw.parse().usage.total_tokens > 0
    stored = decision(uid)

    assert computed == [uid]
    assert stored.input_tokens > 0
