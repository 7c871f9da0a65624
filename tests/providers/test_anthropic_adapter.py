"""Anthropic specifics: wire format, forced tool for choices, refusals, stream error events."""

from __future__ import annotations

import base64

import pytest

from providers.adapters.base import ChatMessage, ChatRequest, ImagePart, ProviderError
from tests.providers._helpers import PNG_1X1, collect, stream_until_error, text_of

HELLO = ChatRequest(
    model="claude-fake", messages=(ChatMessage("user", "hello"),), system="Be brief."
)


async def test_it_sends_images_as_base64_blocks_before_the_text(make_adapter, fake_upstream):
    request = ChatRequest(
        model="claude-fake",
        messages=(ChatMessage("user", "What is this?", images=(ImagePart("image/png", PNG_1X1),)),),
    )

    await make_adapter("anthropic").complete(request)

    content = fake_upstream.requests[-1].body["messages"][0]["content"]
    assert content[0]["type"] == "image"
    assert content[0]["source"]["type"] == "base64"
    assert content[0]["source"]["media_type"] == "image/png"
    assert base64.b64decode(content[0]["source"]["data"]) == PNG_1X1
    assert content[1] == {"type": "text", "text": "What is this?"}


async def test_it_sends_system_max_tokens_and_the_key(make_adapter, fake_upstream):
    await collect(make_adapter("anthropic").stream(HELLO))

    recorded = fake_upstream.requests[-1]
    assert recorded.path == "/v1/messages"
    assert recorded.body["system"] == "Be brief."
    assert recorded.body["max_tokens"] == 4096  # required by the API; our default
    # anthropic 2.x sends the key as a bearer token; older SDKs used x-api-key.
    assert "test-key" in (
        recorded.headers.get("x-api-key"),
        recorded.headers.get("authorization", "").removeprefix("Bearer "),
    )


async def test_choices_force_a_tool_whose_input_is_an_enum(make_adapter, fake_upstream):
    fake_upstream.script(reply="r2")
    request = ChatRequest(
        model="claude-fake", messages=HELLO.messages, choices=("r1", "r2", "none")
    )

    completion = await make_adapter("anthropic").complete(request)

    body = fake_upstream.requests[-1].body
    assert body["tool_choice"] == {"type": "tool", "name": "choose"}
    assert body["tools"][0]["input_schema"]["properties"]["choice"]["enum"] == ["r1", "r2", "none"]
    assert completion.text == "r2"


async def test_a_refusal_names_the_reason(make_adapter, fake_upstream):
    fake_upstream.script(error_code="content_filter")

    with pytest.raises(ProviderError) as error:
        await make_adapter("anthropic").complete(HELLO)

    assert error.value.kind == "content_filter"
    assert "refusal" in error.value.message
    assert "general_harms" in error.value.message


async def test_an_overloaded_error_event_inside_a_stream_is_unavailable():
    # The fake has no switch for mid-stream error events; the SDK raises them as an
    # APIStatusError on the 200 response, which is what this builds.
    import anthropic
    import httpx2

    from providers.adapters.anthropic import _status_error

    response = httpx2.Response(200, request=httpx2.Request("POST", "http://x/v1/messages"))
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    error = _status_error(anthropic.APIStatusError("Overloaded", response=response, body=body))

    assert error.kind == "unavailable"
    assert error.status_code is None


async def test_a_refusal_in_the_stream_is_a_content_filter_error(make_adapter, fake_upstream):
    fake_upstream.script(error_code="content_filter")

    seen, error = await stream_until_error(make_adapter("anthropic").stream(HELLO))

    assert error.kind == "content_filter"
    assert text_of(seen) == ""


async def test_it_lists_models(make_adapter, fake_upstream):
    fake_upstream.models = ["claude-a", "claude-b"]

    assert await make_adapter("anthropic").list_models() == ["claude-a", "claude-b"]
