"""`/v1` request errors: OpenAI's error shape, the right status, nothing sent upstream."""

from __future__ import annotations

import httpx
import pytest

from decisions.models import RoutingDecision


@pytest.fixture
def post(live_url, owner, token_for, fake_router):
    token = token_for(owner)

    def send(body, *, token=token, raw: bytes | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if raw is not None:
            return httpx.post(
                f"{live_url}/v1/chat/completions", content=raw, headers=headers, timeout=10
            )
        return httpx.post(f"{live_url}/v1/chat/completions", json=body, headers=headers, timeout=10)

    return send


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def hi(**extra):
    return {"model": "router:fake-router", "messages": [{"role": "user", "content": "hi"}], **extra}


@pytest.mark.parametrize("token", [None, "", "rw_wrong", "sk-something-else"])
def test_a_missing_or_wrong_token_is_a_401(post, token):
    response = post(hi(), token=token)
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_api_key"


def test_a_session_cookie_is_not_enough(live_url, owner, fake_router, client):
    client.force_login(owner)
    cookies = {"sessionid": client.cookies["sessionid"].value}
    response = httpx.post(f"{live_url}/v1/chat/completions", json=hi(), cookies=cookies, timeout=10)
    assert response.status_code == 401


def test_an_inactive_users_token_is_refused(post, owner):
    owner.is_active = False
    owner.save()
    assert post(hi()).status_code == 401


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "router:fake-router", "messages": []}, "messages"),
        (
            {"model": "router:fake-router", "messages": [{"role": "tool", "content": "x"}]},
            "messages[0].role",
        ),
        (hi(temperature=7), "temperature"),
        (hi(n=3), "n"),
        (
            {
                "model": "router:fake-router",
                "messages": [{"role": "user", "content": [{"type": "input_audio"}]}],
            },
            None,
        ),
    ],
)
def test_invalid_bodies_are_400_invalid_request_errors(post, fake_upstream, body, param):
    response = post(body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    if param:
        assert error["param"] == param
    assert fake_upstream.requests_to("openai") == []


def test_invalid_json_is_a_400(post):
    response = post(None, raw=b"{not json")
    assert response.status_code == 400 and "JSON" in error_of(response)["message"]


def test_tools_are_refused_clearly(post):
    response = post(hi(tools=[{"type": "function", "function": {"name": "f"}}]))
    assert response.status_code == 400 and error_of(response)["param"] == "tools"


def test_an_http_image_url_is_refused_because_we_do_not_fetch(post, fake_upstream):
    content = [
        {"type": "text", "text": "see"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
    ]
    response = post(
        {"model": "router:fake-router", "messages": [{"role": "user", "content": content}]}
    )
    assert response.status_code == 400
    error = error_of(response)
    assert "data URL" in error["message"] and error["param"] == "messages[0].content[1].image_url"
    assert fake_upstream.requests == []


@pytest.mark.parametrize(
    "url",
    ["data:image/png;base64,@@@notbase64", "data:text/plain;base64,aGk=", "data:image/png,raw"],
)
def test_bad_image_data_urls_are_400(post, url):
    content = [{"type": "image_url", "image_url": {"url": url}}]
    response = post(
        {"model": "router:fake-router", "messages": [{"role": "user", "content": content}]}
    )
    assert response.status_code == 400


def test_oversized_text_is_refused_before_any_model_call(post, settings, fake_upstream):
    settings.MAX_MESSAGE_CHARS = 50
    body = {
        "model": "router:fake-router",
        "messages": [
            {"role": "system", "content": "x" * 30},
            {"role": "user", "content": "y" * 30},
        ],
    }
    response = post(body)
    assert response.status_code == 413
    assert "limit is 50" in error_of(response)["message"]
    assert fake_upstream.requests == []
    assert not RoutingDecision.objects.exists()


def test_get_is_not_allowed(live_url):
    assert httpx.get(f"{live_url}/v1/chat/completions").status_code == 405


def test_a_router_that_can_serve_nobody_is_a_400(post, fake_router, fake_models):
    # The only image-capable model is disabled: nothing in the chain accepts an image.
    fake_models["fake-vision"].enabled = False
    fake_models["fake-vision"].save()
    url = "data:image/png;base64,iVBORw0KGgo="
    content = [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": url}}]
    response = post(
        {"model": "router:fake-router", "messages": [{"role": "user", "content": content}]}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "no_suitable_model"


def test_whole_answers_and_errors_say_their_length_and_streams_do_not(post, live_url):
    """Over the real server: a JSON answer or error goes with its Content-Length (not
    chunked, which every client would have to undo); a stream is sent as it is made."""
    others = [
        httpx.get(f"{live_url}/v1/{path}", timeout=10) for path in ("chat/completions", "nope")
    ]
    assert [r.status_code for r in others] == [405, 404]
    for response in (post(hi()), post(hi(), token="rw_wrong"), post({"model": 3}), *others):
        assert response.headers["content-length"] == str(len(response.content))
        assert "transfer-encoding" not in response.headers

    streamed = post(hi(stream=True))
    assert streamed.status_code == 200
    assert "content-length" not in streamed.headers
    assert streamed.headers["transfer-encoding"] == "chunked"


def test_a_gateway_response_closes_its_resources_without_request_finished():
    """Closed on the event loop by the gateway handler, where that signal's receivers have
    nothing to recycle (gateway/v1.py `_LogsOnClose`)."""
    from django.core.signals import request_finished

    from gateway.v1 import _LoggedJson

    finished, closed = [], []

    def receiver(**kwargs):
        finished.append(kwargs)

    request_finished.connect(receiver)
    try:
        response = _LoggedJson({"ok": True})
        response._resource_closers.append(lambda: closed.append(1))
        response.close()
    finally:
        request_finished.disconnect(receiver)
    assert closed == [1] and response.closed
    assert finished == []
