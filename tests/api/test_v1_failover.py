"""Honest failover on `/v1`, seen by an outside client through the official `openai` SDK.

No client can receive HTTP 200 + `finish_reason: stop` + `[DONE]` for an answer that was cut,
stalled, corrupted or spliced. Delays run on the fake clock (tests/fakeclock.py)."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import openai
import pytest

from providers.models import CatalogModel, Provider
from routerweb import clock as clocks
from tests.api.conftest import wait_for
from tests.fakeclock import FakeClock

REPLY = "The quick brown fox jumps over the lazy dog and then runs far away from the farm"
SHOWN = "The quick brown fox jumps over the lazy "


@pytest.fixture(autouse=True)
def clock(fake_upstream):
    fake = FakeClock()
    clocks.install(fake)
    fake_upstream.clock = fake
    yield fake
    fake_upstream.clock = None
    clocks.install(None)


@pytest.fixture
def chain_router(owner, fake_models, fake_upstream):
    """`router:chain`: fake/fake-large first, then an Anthropic and a Gemini model."""
    from routers import services

    made = {}
    for kind, slug in (("anthropic", "fa"), ("gemini", "fg"), ("openai_compatible", "fc")):
        provider = Provider.objects.create(
            name=f"Fake {kind}",
            slug=slug,
            kind=kind,
            base_url=fake_upstream.base_url(kind),
            connect_timeout=1.0,
            read_timeout=5.0,
        )
        provider.api_key = "sk-fake-upstream"
        provider.save()
        made[kind] = CatalogModel.objects.create(
            provider=provider,
            model_id=f"{slug}-model",
            display_name=f"{slug}-model",
            context_window=16_000,
            input_price_per_m="3.00",
            output_price_per_m="15.00",
        )
    router = services.router_create(
        owner=owner,
        name="Chain",
        slug="chain",
        primary_model="fake/fake-large",
        fallbacks=["fa/fa-model", "fg/fg-model"],
        actor=owner,
    )
    return router


@pytest.fixture
def client(live_url, owner, token_for):
    return openai.OpenAI(
        base_url=f"{live_url}/v1", api_key=token_for(owner), max_retries=0, timeout=20
    )


def decision(uid):
    from decisions.models import RoutingDecision

    found = wait_for(lambda: RoutingDecision.objects.filter(uid=uid).first())
    assert found is not None
    return found


def stream_events(live_url, token, body):
    with httpx.stream(
        "POST",
        f"{live_url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {token}"},
        json={"model": "router:chain", "stream": True, **body},
        timeout=20,
    ) as response:
        assert response.status_code == 200
        headers = response.headers
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    return headers, events


MESSAGES = [{"role": "user", "content": "Tell me about the fox"}]


# -- streams ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"drop_after_chunks": 8},
        {"stall_after_chunks": 8},
        {"malformed_chunk_at": 8},
        {"end_after_chunks": 8},
    ],
    ids=["cut", "stall", "malformed", "ended-unfinished"],
)
def test_a_stream_cut_and_continued_names_both_models_and_ends_normally(
    client, chain_router, fake_upstream, fault
):
    fake_upstream.script(model="fake-large", reply=REPLY, **fault)
    fake_upstream.script(model="fa-model", reply=REPLY, on_continue="continue")

    raw = client.chat.completions.with_raw_response.create(
        model="router:chain",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(raw.parse())

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == REPLY
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].model == "fake/fake-large, fa/fa-model"
    assert raw.headers["x-routerweb-model"] == "fake/fake-large", "sent before the cut"
    logged = decision(raw.headers["x-routerweb-decision"])
    assert [(a["model"], a["outcome"]) for a in logged.attempts] == [
        ("fake/fake-large", "cut_off"),
        ("fa/fa-model", "continued"),
    ]
    assert logged.succeeded
    # Usage adds up both attempts, each at its own price.
    assert chunks[-1].usage.completion_tokens == logged.output_tokens
    billed = [a["usage"] for a in logged.attempts]
    assert logged.input_tokens == sum(u["input"] for u in billed)
    expected = (
        Decimal(10) * billed[0]["input"]
        + Decimal(30) * billed[0]["output"]
        + Decimal(3) * billed[1]["input"]
        + Decimal(15) * billed[1]["output"]
    ) / Decimal(1_000_000)
    assert abs(logged.cost - expected) < Decimal("0.000001")


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"drop_after_chunks": 8}, "dropped_stream"),
        ({"stall_after_chunks": 8}, "timeout"),
        ({"malformed_chunk_at": 8}, "dropped_stream"),
        ({"end_after_chunks": 8}, "dropped_stream"),
    ],
    ids=["cut", "stall", "malformed", "ended-unfinished"],
)
@pytest.mark.parametrize("how", ["restart", "ignore", "reject_prefill"])
def test_a_stream_that_cannot_be_continued_raises_in_the_openai_sdk(
    client, chain_router, fake_upstream, fault, kind, how
):
    fake_upstream.script(model="fake-large", reply=REPLY, **fault)
    if how == "reject_prefill":
        # Anthropic refuses the prefill, then, asked by instruction, starts over.
        fake_upstream.script(
            model="fa-model", reply=REPLY, reject_prefill=True, on_continue="restart"
        )
    else:
        # A prefill is continued natively or refused; "ignoring" it is what servers without
        # prefill do with the instruction, so Gemini (no prefill) is the one that ignores.
        fake_upstream.script(model="fa-model", reply=REPLY, on_continue="restart")
    fake_upstream.script(
        model="fg-model", reply=REPLY, on_continue=how if how != "reject_prefill" else "restart"
    )

    stream = client.chat.completions.create(model="router:chain", messages=MESSAGES, stream=True)
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            assert chunk.choices[0].finish_reason is None, "never a finish before the error"
            received.append(chunk.choices[0].delta.content or "")

    assert "".join(received) == SHOWN, "what was sent is all there is: nothing spliced on"
    assert caught.value.body["code"] == "answer_cut_off"
    assert kind in caught.value.message


def test_a_fallback_that_ignores_the_prefill_is_no_continuation(
    client, chain_router, fake_upstream
):
    # Anthropic is sent a prefill, and answers afresh as if there were none: its text after
    # the shown words would be a splice.
    fake_upstream.script(model="fake-large", reply=REPLY, drop_after_chunks=8)
    fake_upstream.script(model="fa-model", reply=REPLY, on_continue="ignore")
    fake_upstream.script(model="fg-model", reply=REPLY, on_continue="restart")

    raw = client.chat.completions.with_raw_response.create(
        model="router:chain", messages=MESSAGES, stream=True
    )
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in raw.parse():
            assert chunk.choices[0].finish_reason is None, "never a finish before the error"
            received.append(chunk.choices[0].delta.content or "")

    assert "".join(received) == SHOWN, "nothing spliced on"
    assert caught.value.body["code"] == "answer_cut_off"
    logged = decision(raw.headers["x-routerweb-decision"])
    assert [(a["model"], a["outcome"]) for a in logged.attempts][:2] == [
        ("fake/fake-large", "cut_off"),
        ("fa/fa-model", "not_continued"),
    ]
    assert "answered afresh" in logged.attempts[1]["message"]


def test_a_cut_stream_ends_with_an_error_event_and_never_done(
    live_url, owner, token_for, chain_router, fake_upstream
):
    fake_upstream.script(model="fake-large", reply=REPLY, drop_after_chunks=8)
    fake_upstream.script(reply=REPLY, on_continue="restart")

    headers, events = stream_events(
        live_url,
        token_for(owner),
        {"messages": MESSAGES, "stream_options": {"include_usage": True}},
    )

    assert "[DONE]" not in events
    error = json.loads(events[-1])["error"]
    assert error["code"] == "answer_cut_off" and error["type"] == "server_error"
    usage = json.loads(events[-2])
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] > 0
    finishes = [
        c["choices"][0]["finish_reason"] for c in map(json.loads, events[:-2]) if c["choices"]
    ]
    assert set(finishes) == {None}
    logged = decision(headers["x-routerweb-decision"])
    assert not logged.succeeded
    assert [a["outcome"] for a in logged.attempts] == ["cut_off", "not_continued", "not_continued"]


def test_a_stream_that_fails_before_any_text_restarts_cleanly(client, chain_router, fake_upstream):
    fake_upstream.script(model="fake-large", delay_first_byte="forever")
    fake_upstream.script(model="fa-model", reply="A whole answer.")

    raw = client.chat.completions.with_raw_response.create(
        model="router:chain", messages=MESSAGES, stream=True
    )
    chunks = list(raw.parse())

    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "A whole answer."
    assert raw.headers["x-routerweb-model"] == "fa/fa-model"
    assert {c.model for c in chunks} == {"fa/fa-model"}


# -- non-streaming requests: nothing reached the client, so always a clean restart ----------


@pytest.mark.parametrize(
    "fault",
    [
        {"drop_after_chunks": 8},
        {"stall_after_chunks": 8},
        {"malformed_chunk_at": 8},
        {"delay_first_byte": "forever"},
    ],
    ids=["cut", "stall", "malformed", "silent"],
)
def test_a_non_streaming_answer_is_one_models_whole_answer(
    client, chain_router, fake_upstream, fault
):
    fake_upstream.script(model="fake-large", reply=REPLY, **fault)
    fake_upstream.script(model="fa-model", reply="A whole answer from Anthropic.")

    raw = client.chat.completions.with_raw_response.create(model="router:chain", messages=MESSAGES)
    completion = raw.parse()

    assert completion.choices[0].message.content == "A whole answer from Anthropic."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "fa/fa-model" == raw.headers["x-routerweb-model"]
    logged = decision(raw.headers["x-routerweb-decision"])
    assert [a["outcome"] for a in logged.attempts][-1] == "restarted"


def test_a_non_streaming_answer_that_no_model_gives_is_an_error_not_a_fragment(
    client, chain_router, fake_upstream
):
    fake_upstream.script(reply=REPLY, drop_after_chunks=8)

    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="router:chain", messages=MESSAGES)

    assert caught.value.status_code in (502, 503)


# -- an answer that stopped at max_tokens is whole as asked, but says so ----------------------


@pytest.mark.parametrize("answering", ["fake-large", "fa-model", "fg-model"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "non-stream"])
def test_an_answer_stopped_at_max_tokens_ends_with_length_not_stop(
    client, chain_router, fake_upstream, answering, stream
):
    # OpenAI, Anthropic or Gemini stops at max_tokens ("length", "max_tokens", "MAX_TOKENS").
    failing = {"fake-large": [], "fa-model": ["fake-large"], "fg-model": ["fake-large", "fa-model"]}
    for model in failing[answering]:
        fake_upstream.script(model=model, status=503)
    fake_upstream.script(model=answering, reply="The quick brown fox", max_tokens_reached=True)
    request = {"model": "router:chain", "messages": MESSAGES, "max_tokens": 4}

    if stream:
        chunks = list(client.chat.completions.create(stream=True, **request))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    else:
        completion = client.chat.completions.create(**request)
        text, finish = completion.choices[0].message.content, completion.choices[0].finish_reason

    assert text == "The quick brown fox"
    assert finish == "length"
