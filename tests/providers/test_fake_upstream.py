"""The fake upstream's own controls: scripting, per-request headers, recording, raw wire."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.fake_upstream import FakeUpstream

CHAT = {"model": "fake-small", "messages": [{"role": "user", "content": "hi"}]}


def post_chat(fake: FakeUpstream, body: dict | None = None, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{fake.url}/v1/chat/completions", json=body or CHAT, headers=headers, timeout=5
    )


def test_a_script_applies_a_limited_number_of_times(fake_upstream):
    fake_upstream.script(times=2, status=503)

    statuses = [post_chat(fake_upstream).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]


def test_a_model_specific_script_beats_a_wildcard(fake_upstream):
    fake_upstream.script(status=500)
    fake_upstream.script(model="fake-large", reply="large answer")

    large = post_chat(fake_upstream, {**CHAT, "model": "fake-large"})
    small = post_chat(fake_upstream)

    assert large.json()["choices"][0]["message"]["content"] == "large answer"
    assert small.status_code == 500


def test_it_can_be_scripted_and_reset_over_http(fake_upstream):
    scripted = httpx.post(
        f"{fake_upstream.url}/_fake/script",
        json={"model": "fake-small", "status": 429, "retry_after": 3},
    )
    limited = post_chat(fake_upstream)
    httpx.post(f"{fake_upstream.url}/_fake/reset")
    after_reset = post_chat(fake_upstream)

    assert scripted.status_code == 200
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    assert limited.json()["error"]["type"] == "requests"
    assert after_reset.status_code == 200


def test_a_header_overrides_the_switches_for_one_request(fake_upstream):
    fake_upstream.script(reply="scripted")

    overridden = post_chat(
        fake_upstream, **{"x-fake-switches": json.dumps({"reply": "from header"})}
    )
    plain = post_chat(fake_upstream)

    assert overridden.json()["choices"][0]["message"]["content"] == "from header"
    assert plain.json()["choices"][0]["message"]["content"] == "scripted"


def test_an_unknown_switch_is_refused_everywhere(fake_upstream):
    with pytest.raises(ValueError, match="stauts"):
        fake_upstream.script(stauts=500)
    over_http = httpx.post(f"{fake_upstream.url}/_fake/script", json={"stauts": 500})
    in_header = post_chat(fake_upstream, **{"x-fake-switches": '{"stauts": 500}'})

    assert over_http.status_code == 400
    assert in_header.status_code == 400 and "stauts" in in_header.text


def test_it_records_requests_for_assertions(fake_upstream):
    post_chat(fake_upstream, authorization="Bearer abc")

    [recorded] = fake_upstream.requests
    listed = httpx.get(f"{fake_upstream.url}/_fake/requests").json()

    assert (recorded.path, recorded.model, recorded.provider) == (
        "/v1/chat/completions",
        "fake-small",
        "openai",
    )
    assert recorded.headers["authorization"] == "Bearer abc"
    assert recorded.body == CHAT
    assert listed[0]["model"] == "fake-small"


def raw_stream(fake: FakeUpstream, switches: dict) -> bytes:
    """The raw HTTP response bytes of a streamed chat completion, read until the socket closes."""
    body = json.dumps({**CHAT, "stream": True, "stream_options": {"include_usage": True}}).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\nx-fake-switches: {json.dumps(switches)}\r\n\r\n".encode()
        + body
    )
    with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def test_a_clean_stream_ends_with_done_usage_and_the_terminating_chunk(fake_upstream):
    raw = raw_stream(fake_upstream, {})

    assert b"Transfer-Encoding: chunked" in raw
    assert b"data: [DONE]" in raw
    assert b'"usage": {"prompt_tokens"' in raw
    assert raw.endswith(b"0\r\n\r\n")


def test_a_dropped_stream_has_neither_end_marker_nor_terminating_chunk(fake_upstream):
    raw = raw_stream(fake_upstream, {"drop_after_chunks": 2})

    assert raw.count(b'"content": "') == 3  # the role preamble and two text chunks
    assert b"[DONE]" not in raw
    assert not raw.endswith(b"0\r\n\r\n")


def test_omitting_the_end_marker_still_ends_the_http_message(fake_upstream):
    raw = raw_stream(fake_upstream, {"omit_end_marker": True})

    assert b"[DONE]" not in raw
    assert raw.endswith(b"0\r\n\r\n")


def test_a_reset_before_headers_sends_nothing(fake_upstream):
    assert raw_stream(fake_upstream, {"reset_before_headers": True}) == b""


def test_it_runs_standalone_on_a_chosen_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_upstream", "--port", str(port)],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5).json()
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert f"127.0.0.1:{port}" in banner
    assert [m["id"] for m in models["data"]] == ["fake-small", "fake-large", "fake-vision"]
