"""Gemini specifics: wire format, enum mode for choices, blocked prompts, timeouts."""

from __future__ import annotations

import pytest

from providers.adapters.base import ChatMessage, ChatRequest, ImagePart, ProviderError
from tests.fake_upstream.server import decode_base64
from tests.providers._helpers import PNG_1X1, collect, stream_until_error

HELLO = ChatRequest(
    model="gemini-fake",
    messages=(
        ChatMessage("user", "hello"),
        ChatMessage("assistant", "hi"),
        ChatMessage("user", "again"),
    ),
    system="Be brief.",
    temperature=0.3,
    max_tokens=64,
)


async def test_it_sends_images_as_inline_data_parts(make_adapter, fake_upstream):
    request = ChatRequest(
        model="gemini-fake",
        messages=(ChatMessage("user", "What is this?", images=(ImagePart("image/png", PNG_1X1),)),),
    )

    await make_adapter("gemini").complete(request)

    parts = fake_upstream.requests[-1].body["contents"][0]["parts"]
    # google-genai 3.x writes the nested field in snake_case; the API accepts both spellings.
    inline = parts[0]["inlineData"]
    assert inline.get("mimeType", inline.get("mime_type")) == "image/png"
    assert decode_base64(parts[0]["inlineData"]["data"]) == PNG_1X1
    assert parts[1] == {"text": "What is this?"}


async def test_it_maps_roles_system_and_generation_settings(make_adapter, fake_upstream):
    await collect(make_adapter("gemini").stream(HELLO))

    recorded = fake_upstream.requests[-1]
    assert recorded.path == "/v1beta/models/gemini-fake:streamGenerateContent"
    assert recorded.query == {"alt": ["sse"]}
    assert [c["role"] for c in recorded.body["contents"]] == ["user", "model", "user"]
    assert recorded.body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert recorded.body["generationConfig"]["temperature"] == 0.3
    assert recorded.body["generationConfig"]["maxOutputTokens"] == 64
    assert recorded.headers["x-goog-api-key"] == "test-key"


async def test_choices_use_the_enum_mime_type(make_adapter, fake_upstream):
    fake_upstream.script(reply="r2")
    request = ChatRequest(
        model="gemini-fake", messages=HELLO.messages, choices=("r1", "r2", "none")
    )

    completion = await make_adapter("gemini").complete(request)

    config = fake_upstream.requests[-1].body["generationConfig"]
    assert config["responseMimeType"] == "text/x.enum"
    assert config["responseSchema"]["enum"] == ["r1", "r2", "none"]
    assert completion.text == "r2"


async def test_a_blocked_prompt_is_content_filter_with_its_reason(make_adapter, fake_upstream):
    fake_upstream.script(error_code="prompt_blocked")

    with pytest.raises(ProviderError) as error:
        await make_adapter("gemini").complete(HELLO)
    _, stream_error = await stream_until_error(make_adapter("gemini").stream(HELLO))

    for exc in (error.value, stream_error):
        assert exc.kind == "content_filter"
        assert "block_reason=SAFETY" in exc.message


async def test_a_safety_finish_reason_names_it(make_adapter, fake_upstream):
    fake_upstream.script(error_code="content_filter")

    with pytest.raises(ProviderError) as error:
        await make_adapter("gemini").complete(HELLO)

    assert "finish_reason=SAFETY" in error.value.message


async def test_a_connect_timeout_is_separate_from_the_read_timeout(make_adapter, fake_upstream):
    adapter = make_adapter("gemini", connect_timeout=1.5, read_timeout=7.0)

    timeout = adapter._client._api_client._async_httpx_client.timeout

    assert (timeout.connect, timeout.read) == (1.5, 7.0)


async def test_an_invalid_key_reported_as_400_is_auth():
    from google.genai import errors

    from providers.adapters.gemini import _api_error

    details = {
        "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            ],
        }
    }

    assert _api_error(errors.ClientError(400, details)).kind == "auth"


async def test_a_rate_limit_uses_retry_info_when_there_is_no_header():
    from google.genai import errors

    from providers.adapters.gemini import _api_error

    details = {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "31s"}],
        }
    }

    error = _api_error(errors.ClientError(429, details))

    assert (error.kind, error.retry_after) == ("rate_limited", 31.0)


async def test_it_lists_models_without_the_models_prefix(make_adapter, fake_upstream):
    fake_upstream.models = ["gemini-a", "gemini-b"]

    assert await make_adapter("gemini").list_models() == ["gemini-a", "gemini-b"]


async def test_a_missing_key_is_an_auth_error_not_an_sdk_exception():
    from providers.adapters.base import ProviderConfig
    from providers.adapters.gemini import GeminiAdapter

    with pytest.raises(ProviderError) as error:
        await GeminiAdapter(ProviderConfig(kind="gemini")).complete(HELLO)

    assert error.value.kind == "auth"
