"""OpenAI specifics: wire format, structured choices, compatible servers, model discovery."""

from __future__ import annotations

import base64

import pytest

from providers.adapters.base import ChatMessage, ChatRequest, ImagePart, ProviderError
from tests.providers._helpers import PNG_1X1, collect, stream_until_error, text_of

HELLO = ChatRequest(
    model="fake-small", messages=(ChatMessage("user", "hello"),), system="Be brief."
)


async def test_it_sends_images_as_data_urls_after_the_text(make_adapter, fake_upstream):
    request = ChatRequest(
        model="fake-vision",
        messages=(ChatMessage("user", "What is this?", images=(ImagePart("image/png", PNG_1X1),)),),
    )

    await make_adapter("openai").complete(request)

    content = fake_upstream.requests[-1].body["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "What is this?"}
    url = content[1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.removeprefix("data:image/png;base64,")) == PNG_1X1


async def test_it_sends_the_system_prompt_first_and_asks_for_stream_usage(
    make_adapter, fake_upstream
):
    await collect(make_adapter("openai").stream(HELLO))

    body = fake_upstream.requests[-1].body
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert fake_upstream.requests[-1].headers["authorization"] == "Bearer test-key"


async def test_choices_use_a_json_schema_enum_on_openai(make_adapter, fake_upstream):
    request = ChatRequest(
        model="fake-small", messages=HELLO.messages, choices=("r1", "r2", "none"), max_tokens=5
    )

    completion = await make_adapter("openai").complete(request)

    body = fake_upstream.requests[-1].body
    schema = body["response_format"]["json_schema"]["schema"]
    assert body["response_format"]["type"] == "json_schema"
    assert schema["properties"]["choice"]["enum"] == ["r1", "r2", "none"]
    assert body["max_completion_tokens"] == 5
    assert completion.text == "r1"  # the fake picks the first enum value by default


async def test_choices_go_as_plain_text_to_compatible_servers(make_adapter, fake_upstream):
    fake_upstream.script(reply="r2")
    request = ChatRequest(
        model="llama3", messages=HELLO.messages, choices=("r1", "r2", "none"), max_tokens=5
    )

    completion = await make_adapter("openai_compatible").complete(request)

    body = fake_upstream.requests[-1].body
    assert "response_format" not in body
    assert body["max_tokens"] == 5
    assert completion.text == "r2"


async def test_compatible_servers_need_a_base_url():
    from providers.adapters.base import ProviderConfig
    from providers.adapters.openai import OpenAICompatibleAdapter

    with pytest.raises(ValueError, match="base URL"):
        OpenAICompatibleAdapter(ProviderConfig(kind="openai_compatible"))


async def test_a_compatible_server_without_a_key_still_gets_a_request(make_adapter, fake_upstream):
    completion = await make_adapter("openai_compatible", api_key="").complete(HELLO)

    assert completion.text.startswith("Fake reply from fake-small")


async def test_it_lists_the_models_of_a_compatible_server(make_adapter, fake_upstream):
    fake_upstream.models = ["llama3.1:8b", "qwen2.5-coder"]

    models = await make_adapter("openai_compatible").list_models()

    assert models == ["llama3.1:8b", "qwen2.5-coder"]
    assert fake_upstream.requests[-1].path == "/v1/models"


async def test_listing_models_maps_errors_too(make_adapter, fake_upstream):
    with pytest.raises(ProviderError) as error:
        await make_adapter(
            "openai_compatible", base_url=fake_upstream.url + "/nowhere"
        ).list_models()

    assert error.value.kind == "bad_request"
    assert error.value.status_code == 404


async def test_a_content_policy_violation_code_is_content_filter(make_adapter, fake_upstream):
    fake_upstream.script(error_code="content_policy_violation")

    with pytest.raises(ProviderError) as error:
        await make_adapter("openai").complete(HELLO)

    assert error.value.kind == "content_filter"
    assert error.value.status_code == 400
    assert "safety system" in error.value.message


async def test_a_content_filter_finish_reason_says_so(make_adapter, fake_upstream):
    fake_upstream.script(error_code="content_filter")

    _, error = await stream_until_error(make_adapter("openai").stream(HELLO))

    assert error.kind == "content_filter"
    assert "finish_reason=content_filter" in error.message


async def test_a_compatible_servers_context_message_without_a_code_is_context_too_long():
    # vLLM and llama.cpp say it in words only; no fake switch for that shape, so build the error.
    import httpx2
    import openai

    from providers.adapters.openai import _status_error

    response = httpx2.Response(400, request=httpx2.Request("POST", "http://x/v1/chat/completions"))
    body = {
        "message": "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens"
    }
    error = _status_error(openai.BadRequestError("Error code: 400", response=response, body=body))

    assert error.kind == "context_too_long"


async def test_the_stream_ends_at_done_even_if_more_follows(make_adapter, fake_upstream):
    # Regression guard for the SDK contract we rely on: [DONE] ends iteration.
    events = await collect(make_adapter("openai").stream(HELLO))

    assert text_of(events) == "Fake reply from fake-small: hello"


@pytest.mark.parametrize(
    "base_url",
    [
        "",
        "http://h:1/v1",
        "http://h:1/v1/",
        "http://h:1",
        "http://h:1/a%20b/v1",
        "http://u:p@h:1/v1",
    ],
)
def test_the_endpoint_is_joined_once_as_the_sdk_joins_it(base_url):
    from providers.adapters.base import ProviderConfig
    from providers.adapters.openai import OpenAIAdapter

    adapter = OpenAIAdapter(ProviderConfig(kind="openai", base_url=base_url))

    assert adapter._completions_url == str(adapter._client._prepare_url("/chat/completions"))


def test_a_base_url_with_a_query_is_joined_by_the_sdk_itself():
    from providers.adapters.base import ProviderConfig
    from providers.adapters.openai import OpenAIAdapter

    adapter = OpenAIAdapter(ProviderConfig(kind="openai", base_url="http://h:1/v1?api-version=1"))

    assert adapter._completions_url == "/chat/completions"


async def test_calls_reach_the_endpoint_under_the_base_urls_path(make_adapter, fake_upstream):
    adapter = make_adapter("openai", base_url=fake_upstream.base_url("openai") + "/")

    await adapter.complete(HELLO)
    await collect(adapter.stream(HELLO))

    assert [r.path for r in fake_upstream.requests[-2:]] == ["/v1/chat/completions"] * 2
