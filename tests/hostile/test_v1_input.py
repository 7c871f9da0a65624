"""Hostile bodies and names on `/v1`: a 400 in OpenAI's error shape before any model call,
and header values that no stored name can break (issue 11, items 6, 7 and 11)."""

from __future__ import annotations

import json
from urllib.parse import unquote

import httpx
import pytest

from decisions.models import RoutingDecision
from routers import services
from routers.models import Rule
from tests.api.conftest import wait_for


@pytest.fixture
def post(live_url, owner, token_for, fake_router):
    token = token_for(owner)

    def send(raw: bytes) -> httpx.Response:
        return httpx.post(
            f"{live_url}/v1/chat/completions",
            content=raw,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=10,
        )

    return send


def error_of(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == "invalid_request_error"
    return body["error"]


def body(content: str = "hi", **extra) -> dict:
    return {
        "model": "router:fake-router",
        "messages": [{"role": "user", "content": content}],
        **extra,
    }


@pytest.mark.parametrize("depth", [40, 900, 100_000])
def test_deeply_nested_json_is_a_400(post, fake_upstream, depth):
    raw = json.dumps(body())[:-1] + ', "metadata": ' + "[" * depth + "]" * depth + "}"
    response = post(raw.encode())
    assert response.status_code == 400
    assert "nests JSON" in error_of(response)["message"]
    assert fake_upstream.requests == []


def test_ordinary_nesting_still_works(post, fake_upstream):
    content = [{"type": "text", "text": "hello"}]
    response = post(
        json.dumps(
            body(metadata={"a": {"b": [[1]]}})
            | {"messages": [{"role": "user", "content": content}]}
        ).encode()
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "text",
    [r'"\ud800"', r'"a\udfffb"', r'"\ud83d"'],  # lone surrogates, escaped as JSON allows
)
def test_a_lone_surrogate_is_a_400(post, fake_upstream, text):
    raw = json.dumps(body("PLACEHOLDER")).replace('"PLACEHOLDER"', text).encode()
    response = post(raw)
    assert response.status_code == 400
    assert "surrogate" in error_of(response)["message"]
    assert fake_upstream.requests == []
    assert not RoutingDecision.objects.exists()


def test_a_surrogate_pair_is_an_ordinary_character(post, fake_upstream):
    raw = json.dumps(body("PLACEHOLDER")).replace('"PLACEHOLDER"', r'"smile \ud83d\ude00"')
    assert post(raw.encode()).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(body("before\u0000after")),
        json.dumps(
            body(
                "hi",
                messages=[
                    {"role": "system", "content": "\u0000"},
                    {"role": "user", "content": "hi"},
                ],
            )
        ),
        json.dumps(body("hi", user="bob\u0000")),
    ],
)
def test_a_nul_character_anywhere_is_a_400(post, fake_upstream, raw):
    response = post(raw.encode())
    assert response.status_code == 400
    assert "NUL" in error_of(response)["message"]
    assert fake_upstream.requests == []


def publish_as_stored(router):
    """Publish the rows as they stand, as a version written before names were validated."""
    services.publish_version(
        router=router, snapshot=services.router_snapshot(router=router), actor=router.owner, note=""
    )


@pytest.mark.parametrize(
    "name",
    ["Code\r\nX-Evil: 1", "Code\nsecond line", "Código ✓ 100%", "tab\there\x7fdel"],
)
def test_any_stored_rule_name_is_sent_safely_and_the_decision_logged(
    post, fake_upstream, fake_router, name
):
    # A row written before names were validated (or straight into the database).
    Rule.objects.filter(router=fake_router, name="Code").update(name=name)
    publish_as_stored(fake_router)
    response = post(json.dumps(body("my python code")).encode())
    assert response.status_code == 200, response.text
    header = response.headers["x-routerweb-rule"]
    assert header.isascii() and "\r" not in header and "\n" not in header
    assert unquote(header) == name
    assert "x-evil" not in response.headers
    decision = wait_for(lambda: RoutingDecision.objects.first())
    assert decision is not None and decision.succeeded
    assert decision.rule_name == name


def test_a_streamed_answer_gets_the_same_safe_header(post, fake_upstream, fake_router):
    Rule.objects.filter(router=fake_router, name="Code").update(name="a\r\nb")
    publish_as_stored(fake_router)
    response = post(json.dumps(body("python", stream=True)).encode())
    assert response.status_code == 200
    assert response.headers["x-routerweb-rule"] == "a%0D%0Ab"
    assert "data: [DONE]" in response.text
    assert wait_for(lambda: RoutingDecision.objects.exists())


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("value", [10**30, 1_000_001, 0])
def test_output_token_limits_are_bounded(post, fake_upstream, field, value):
    response = post(json.dumps(body("hi", **{field: value})).encode())
    assert response.status_code == 400
    assert error_of(response)["param"] == field
    assert fake_upstream.requests == []
