"""Prometheus `/metrics` and OpenTelemetry traces of `/v1` calls (routerweb.observability).

Calls go through the official `openai` SDK to the app under uvicorn, models on the fake
upstream. Counters are process-wide, so each test compares a value before and after.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client.parser import text_string_to_metric_families

from routerweb import observability
from tests.api.conftest import wait_for


@pytest.fixture
def client(live_url, owner, token_for):
    return openai.OpenAI(
        base_url=f"{live_url}/v1", api_key=token_for(owner), max_retries=0, timeout=10
    )


def scrape(live_url: str, **headers: str) -> dict[tuple[str, frozenset], float]:
    response = httpx.get(f"{live_url}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def settled(live_url: str) -> None:
    wait_for(lambda: True)  # every in-flight answer has been logged (and counted)


# --- who may read /metrics ------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_are_served_to_loopback_and_refused_elsewhere_without_the_token(client, settings):
    from django.test import Client

    web = Client()
    assert web.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    refused = web.get("/metrics", REMOTE_ADDR="203.0.113.7")
    assert refused.status_code == 403
    assert b"METRICS_TOKEN" in refused.content

    settings.METRICS_TOKEN = "scrape-secret"
    assert (
        web.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer nope").status_code
        == 403
    )
    ok = web.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert ok.status_code == 200 and b"routerweb_requests_total" in ok.content

    settings.METRICS_TOKEN = None
    settings.METRICS_ALLOWED_NETWORKS = ["203.0.113.0/24"]
    assert web.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 200
    assert web.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_a_bad_allowed_network_fails_loudly_at_startup(monkeypatch):
    import importlib

    from django.core.exceptions import ImproperlyConfigured

    import routerweb.settings as module

    monkeypatch.setenv("METRICS_ALLOWED_NETWORKS", "10.0.0.0/8,not-a-network")
    with pytest.raises(ImproperlyConfigured, match="not-a-network"):
        importlib.reload(module)
    monkeypatch.delenv("METRICS_ALLOWED_NETWORKS")
    importlib.reload(module)


# --- what they count ------------------------------------------------------------------------


def test_a_routed_answer_is_counted_per_router_rule_and_model(client, live_url, fake_router):
    before = scrape(live_url)
    completion = client.chat.completions.create(
        model="router:fake-router", messages=[{"role": "user", "content": "python question"}]
    )
    stream = client.chat.completions.create(
        model="router:fake-router",
        messages=[{"role": "user", "content": "hello there"}],
        stream=True,
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    settled(live_url)
    after = scrape(live_url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    code = {"router": "fake-router", "rule": "Code", "model": "fake/fake-large"}
    primary = {"router": "fake-router", "rule": "", "model": "fake/fake-small"}
    assert delta("routerweb_requests_total", channel="api", status="ok", **code) == 1
    assert delta("routerweb_requests_total", channel="api", status="ok", **primary) == 1
    assert delta("routerweb_routing_decisions_total", channel="api", source="rule", **code) == 1
    assert (
        delta(
            "routerweb_tokens_total",
            channel="api",
            router="fake-router",
            model="fake/fake-large",
            direction="output",
        )
        == completion.usage.completion_tokens
    )
    assert (
        delta(
            "routerweb_cost_usd_total", channel="api", router="fake-router", model="fake/fake-large"
        )
        > 0
    )
    assert delta("routerweb_primary_cost_usd_total", channel="api", router="fake-router") > 0
    assert delta("routerweb_model_attempts_total", model="fake/fake-large", outcome="ok") == 1
    assert delta("routerweb_routing_duration_seconds_count", router="fake-router") == 2
    assert delta("routerweb_request_duration_seconds_count", stream="false", **code) == 1
    assert delta("routerweb_request_duration_seconds_count", stream="true", **primary) == 1
    assert delta("routerweb_time_to_first_token_seconds_count", **primary) == 1
    assert delta("routerweb_time_to_first_token_seconds_count", **code) == 0


def test_fallbacks_failures_and_an_opened_breaker_are_counted(
    client, live_url, fake_router, fake_upstream, settings
):
    settings.BREAKER_FAILURE_THRESHOLD = 1
    settings.FAILOVER_MAX_ATTEMPTS_PER_MODEL = 1
    before = scrape(live_url)
    fake_upstream.script(model="fake-large", status=500)
    answer = client.chat.completions.create(
        model="router:fake-router", messages=[{"role": "user", "content": "python question"}]
    )
    assert answer.model == "fake/fake-small"
    # The breaker is open now: the next call skips fake-large without calling it.
    client.chat.completions.create(
        model="router:fake-router", messages=[{"role": "user", "content": "python again"}]
    )
    settled(live_url)
    after = scrape(live_url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert (
        delta(
            "routerweb_fallbacks_total",
            channel="api",
            router="fake-router",
            model="fake/fake-small",
        )
        == 2
    )
    assert (
        delta("routerweb_model_attempts_total", model="fake/fake-large", outcome="unavailable") == 1
    )
    assert (
        delta("routerweb_model_attempts_total", model="fake/fake-large", outcome="circuit_open")
        == 1
    )
    assert delta("routerweb_model_attempts_total", model="fake/fake-small", outcome="ok") == 2
    assert delta("routerweb_circuit_breaker_opened_total", model="fake/fake-large") == 1


def test_refused_requests_are_counted_by_status(client, live_url):
    before = scrape(live_url)
    bad = openai.OpenAI(base_url=f"{live_url}/v1", api_key="rw_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
    after = scrape(live_url)
    assert (
        value(after, "routerweb_api_rejected_total", status="401")
        - value(before, "routerweb_api_rejected_total", status="401")
        == 1
    )


# --- traces ---------------------------------------------------------------------------------


def test_without_an_otlp_endpoint_nothing_is_set_up(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert observability.configure_tracing() is False
    assert observability.TRACING is False
    assert observability.start_request_span("router:x", stream=False) is None


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    observability.configure_tracing(exporter)
    yield exporter
    observability.shutdown_tracing()


def test_a_call_is_traced_with_a_routing_span_and_one_span_per_attempt(
    client, live_url, fake_router, fake_upstream, spans
):
    fake_upstream.script(model="fake-large", status=400)
    completion = client.chat.completions.create(
        model="router:fake-router",
        messages=[{"role": "user", "content": "python question"}],
        temperature=0.2,
        max_tokens=40,
    )
    settled(live_url)
    observability.force_flush()
    by_name: dict[str, list[Any]] = {}
    for span in spans.get_finished_spans():
        by_name.setdefault(span.name, []).append(span)

    (root,) = by_name["chat router:fake-router"]
    (route,) = by_name["route router:fake-router"]
    (failed,) = by_name["chat fake-large"]
    (answered,) = by_name["chat fake-small"]
    assert root.kind == SpanKind.SERVER and root.parent is None
    for child in (route, failed, answered):
        assert child.context.trace_id == root.context.trace_id
        assert child.parent is not None and child.parent.span_id == root.context.span_id

    assert root.attributes["gen_ai.operation.name"] == "chat"
    assert root.attributes["gen_ai.request.model"] == "router:fake-router"
    assert root.attributes["gen_ai.response.model"] == "fake/fake-small"
    assert root.attributes["gen_ai.response.id"] == completion.id
    assert root.attributes["gen_ai.usage.output_tokens"] == completion.usage.completion_tokens
    assert root.attributes["routerweb.rule"] == "Code"

    assert route.attributes["routerweb.decision.source"] == "rule"
    assert route.attributes["routerweb.decision.model"] == "fake/fake-large"
    assert route.attributes["routerweb.router.version"] == fake_router.published_version.number

    assert failed.kind == SpanKind.CLIENT
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["error.type"] == "bad_request"
    assert failed.attributes["gen_ai.provider.name"] == "openai"
    assert failed.attributes["gen_ai.request.model"] == "fake-large"
    assert failed.attributes["gen_ai.request.temperature"] == 0.2
    assert failed.attributes["gen_ai.request.max_tokens"] == 40
    assert failed.attributes["server.address"] == "127.0.0.1"

    assert answered.status.status_code != StatusCode.ERROR
    assert answered.attributes["gen_ai.response.model"] == "fake-small"
    assert answered.attributes["gen_ai.usage.input_tokens"] == completion.usage.prompt_tokens
    assert failed.start_time <= failed.end_time and answered.start_time <= answered.end_time
    assert failed.start_time < answered.start_time
    assert root.start_time <= route.start_time and answered.end_time <= root.end_time


class _OtlpReceiver(ThreadingHTTPServer):
    """A tiny OTLP/HTTP collector on loopback: keeps every exported trace request."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                message = ExportTraceServiceRequest()
                message.ParseFromString(body)
                receiver.paths.append(self.path)
                receiver.requests.append(message)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def test_spans_are_exported_over_otlp_http_when_an_endpoint_is_set(
    client, live_url, fake_router, monkeypatch
):
    receiver = _OtlpReceiver()
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{receiver.server_port}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "routerweb-test")
    try:
        assert observability.configure_tracing() is True
        client.chat.completions.create(
            model="router:fake-router", messages=[{"role": "user", "content": "hello"}]
        )
        settled(live_url)
        observability.force_flush()
    finally:
        observability.shutdown_tracing()
        receiver.shutdown()
        receiver.server_close()

    assert receiver.paths and set(receiver.paths) == {"/v1/traces"}
    exported = [
        (resource_spans.resource, span)
        for request in receiver.requests
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    names = {span.name for _, span in exported}
    assert {"chat router:fake-router", "route router:fake-router", "chat fake-small"} <= names
    resource, attempt = next((r, s) for r, s in exported if s.name == "chat fake-small")
    service = {a.key: a.value.string_value for a in resource.attributes}["service.name"]
    assert service == "routerweb-test"
    attributes = {a.key: a.value for a in attempt.attributes}
    assert attributes["gen_ai.provider.name"].string_value == "openai"
    assert attributes["gen_ai.usage.output_tokens"].int_value > 0


def test_worker_processes_sharing_a_multiprocess_dir_report_their_sum(tmp_path):
    """What `scripts/start-web.sh` sets up for uvicorn's workers: each process counts into the
    shared directory and `/metrics` from any of them reports the total."""
    import os
    import subprocess
    import sys

    script = (
        "import django, sys; django.setup()\n"
        "from routerweb import observability\n"
        "observability.breaker_opened('demo/x')\n"
        "if sys.argv[1] == 'report': sys.stdout.write(observability.metrics_text().decode())\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    env.setdefault("DJANGO_SETTINGS_MODULE", "routerweb.settings")
    for role in ("count", "count", "report"):
        done = subprocess.run(
            [sys.executable, "-c", script, role],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(done.stdout)
        for sample in family.samples
    }
    assert value(samples, "routerweb_circuit_breaker_opened_total", model="demo/x") == 3
