"""Prometheus metrics and OpenTelemetry traces.

**Metrics** (`prometheus-client`) are counted in the web process that answered, from the
routing-decision record every surface logs (`decisions.log.decision_log`: chat and `/v1`
alike), so they cost the hot path nothing (`/v1` logs on its logging thread after the answer
is sent). `/v1` also observes its own latency and time to first token. `GET /metrics` serves
them in the Prometheus text format (see `metrics_view` for who may read it). With several
uvicorn workers on one host, set `PROMETHEUS_MULTIPROC_DIR` to an empty directory they share
(prometheus-client's multiprocess mode): each worker writes its counts there and whichever
worker serves `/metrics` reports the sum. Separate hosts or containers are scraped separately.

**Traces** (OpenTelemetry, GenAI semantic conventions): a `/v1` call is a span `chat <model>`
with a child `route <model>` for the routing decision and one child `chat <model-id>`
(kind CLIENT) per attempt on a provider, with `gen_ai.*` attributes (operation, provider,
request/response model, token usage, `error.type`). Spans are exported over OTLP/HTTP when
`OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; otherwise no
SDK is set up, `TRACING` stays False and every hook below returns at its first line.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess

log = logging.getLogger(__name__)

# --- metrics ----------------------------------------------------------------------------------

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_FAST = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1)

REQUESTS = Counter(
    "routerweb_requests",
    "Answers requested, by channel (chat, api), router, rule, answering model and status "
    "(ok, or the failure).",
    ["channel", "router", "rule", "model", "status"],
)
REQUEST_SECONDS = Histogram(
    "routerweb_request_duration_seconds",
    "/v1 chat completions: time from the request to the end of the answer.",
    ["router", "rule", "model", "stream"],
    buckets=_LATENCY,
)
TTFT_SECONDS = Histogram(
    "routerweb_time_to_first_token_seconds",
    "/v1 streaming chat completions: time from the request to the first text sent.",
    ["router", "rule", "model"],
    buckets=_LATENCY,
)
REJECTED = Counter(
    "routerweb_api_rejected",
    "/v1 chat completions refused before any model was called, by HTTP status.",
    ["status"],
)
DECISIONS = Counter(
    "routerweb_routing_decisions",
    "Routing decisions, by router, rule, chosen model and source (rule, primary, sticky, "
    "override).",
    ["channel", "router", "rule", "model", "source"],
)
ROUTING_SECONDS = Histogram(
    "routerweb_routing_duration_seconds",
    "Time the routing engine took to decide (classifier call excluded).",
    ["router"],
    buckets=_FAST,
)
CLASSIFIER_CALLS = Counter(
    "routerweb_classifier_calls",
    "Classifier verdicts for LLM-classified rules, by outcome (called, cached, error).",
    ["router", "outcome"],
)
CLASSIFIER_SECONDS = Histogram(
    "routerweb_classifier_duration_seconds",
    "Classifier call latency (cached verdicts not included).",
    ["router"],
    buckets=_LATENCY,
)
FALLBACKS = Counter(
    "routerweb_fallbacks",
    "Answers given by another model than the first one tried, by router and answering model.",
    ["channel", "router", "model"],
)
ATTEMPTS = Counter(
    "routerweb_model_attempts",
    "Calls to a model, by outcome: ok, or the failure kind (rate_limited, timeout, "
    "unavailable, ..., circuit_open when the breaker skipped it).",
    ["model", "outcome"],
)
ATTEMPT_SECONDS = Histogram(
    "routerweb_model_attempt_duration_seconds",
    "Duration of one call to a model (skipped models not included).",
    ["model", "outcome"],
    buckets=_LATENCY,
)
BREAKER_OPENED = Counter(
    "routerweb_circuit_breaker_opened",
    "Times a model's circuit breaker opened (after repeated failures, or a failed probe).",
    ["model"],
)
TOKENS = Counter(
    "routerweb_tokens",
    "Tokens of answered requests, by direction (input, output).",
    ["channel", "router", "model", "direction"],
)
COST = Counter(
    "routerweb_cost_usd",
    "Cost of answered requests at catalog prices (USD).",
    ["channel", "router", "model"],
)
PRIMARY_COST = Counter(
    "routerweb_primary_cost_usd",
    "What the same requests would have cost had the router's primary model answered (USD).",
    ["channel", "router"],
)


def record_decision(payload: Mapping[str, Any]) -> None:
    """Count one routed answer from its decision record (see `decisions.log.answer_payload`)."""
    try:
        _record_decision(payload)
    except Exception:  # metrics must never break logging
        log.warning("could not record metrics for decision %s", payload.get("uid"), exc_info=True)


def _record_decision(payload: Mapping[str, Any]) -> None:
    channel = str(payload.get("channel") or "")
    router = str(payload.get("router_slug") or "")
    rule = str(payload.get("rule_name") or "")
    model = str(payload.get("answered_by") or "")
    chosen = str(payload.get("model_ref") or "")
    status = "ok" if payload.get("succeeded") else _failure_of(payload.get("attempts") or [])
    REQUESTS.labels(channel, router, rule, model, status).inc()
    DECISIONS.labels(channel, router, rule, chosen, str(payload.get("source") or "")).inc()
    if router:
        decision_us = payload.get("decision_us") or 0
        ROUTING_SECONDS.labels(router).observe(float(decision_us) / 1e6)
    if payload.get("classifier_called"):
        if payload.get("classifier_error"):
            outcome = "error"
        elif payload.get("classifier_cached"):
            outcome = "cached"
        else:
            outcome = "called"
        CLASSIFIER_CALLS.labels(router, outcome).inc()
        latency = payload.get("classifier_latency_ms")
        if outcome != "cached" and latency is not None:
            CLASSIFIER_SECONDS.labels(router).observe(float(latency) / 1000)
    if payload.get("fallback_used"):
        FALLBACKS.labels(channel, router, model).inc()
    for attempt in payload.get("attempts") or []:
        outcome = "ok" if attempt.get("ok") else str(attempt.get("error") or "error")
        ATTEMPTS.labels(str(attempt.get("model") or ""), outcome).inc()
        if not attempt.get("skipped"):
            ATTEMPT_SECONDS.labels(str(attempt.get("model") or ""), outcome).observe(
                float(attempt.get("duration_ms") or 0) / 1000
            )
    if model:
        TOKENS.labels(channel, router, model, "input").inc(int(payload.get("input_tokens") or 0))
        TOKENS.labels(channel, router, model, "output").inc(int(payload.get("output_tokens") or 0))
        COST.labels(channel, router, model).inc(float(Decimal(str(payload.get("cost") or 0))))
        if router:
            primary = float(Decimal(str(payload.get("primary_cost") or 0)))
            PRIMARY_COST.labels(channel, router).inc(primary)


def _failure_of(attempts: list[Mapping[str, Any]]) -> str:
    for attempt in reversed(attempts):
        if not attempt.get("ok") and attempt.get("error"):
            return str(attempt["error"])
    return "failed"


def record_api_timing(
    *, router: str, rule: str, model: str, stream: bool, total: float, ttft: float | None
) -> None:
    """A `/v1` call's latency (seconds) and, when streamed, its time to first token."""
    REQUEST_SECONDS.labels(router, rule, model, "true" if stream else "false").observe(total)
    if ttft is not None:
        TTFT_SECONDS.labels(router, rule, model).observe(ttft)


def api_rejected(status: int, span: Any = None) -> None:
    """A `/v1` request refused before any model was called (bad token, bad request, ...)."""
    REJECTED.labels(str(status)).inc()
    if span is not None:
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("error.type", str(status))
        span.set_status(Status(StatusCode.ERROR))
        span.end()


def breaker_opened(ref: str) -> None:
    BREAKER_OPENED.labels(ref).inc()


def metrics_text() -> bytes:
    """Every metric in the Prometheus text format; summed over the host's worker processes
    in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()


def address_allowed(address: str, networks: list[str]) -> bool:
    """True when `address` (REMOTE_ADDR) lies in one of `networks` (CIDR or single address)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in networks:
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


# --- traces -----------------------------------------------------------------------------------

# True once an SDK tracer provider is installed (configure_tracing); every hook checks it first
# so that an unconfigured deployment pays one attribute read per call site.
TRACING = False
_tracer: Any = None
_provider: Any = None

# `gen_ai.provider.name` values of the semantic conventions, per provider kind.
_GENAI_PROVIDER = {
    "openai": "openai",
    "openai_compatible": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
}


def configure_tracing(exporter: Any = None) -> bool:
    """Install the OpenTelemetry SDK with a batching exporter: `exporter` (tests pass an
    in-memory one), else OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` or
    `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set. Returns whether tracing is on."""
    global TRACING, _tracer, _provider
    if exporter is None:
        if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true" or not (
            os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
            or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        ):
            return False
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # Endpoint, headers, timeout and compression come from the standard OTEL_* variables.
        exporter = OTLPSpanExporter()
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "routerweb")})
    )
    # Batching: spans are exported by the processor's own thread, never on the request path.
    provider.add_span_processor(BatchSpanProcessor(exporter))
    _provider = provider
    _tracer = provider.get_tracer("routerweb")
    TRACING = True
    return True


def shutdown_tracing() -> None:
    """Flush and stop the exporter (tests; orderly shutdown)."""
    global TRACING, _tracer, _provider
    TRACING = False
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


def force_flush() -> None:
    if _provider is not None:
        _provider.force_flush()


def start_request_span(model: str, *, stream: bool) -> Any:
    """The span of one `/v1` chat completion, made current for the rest of this task (the
    routing and attempt spans hang under it). None when tracing is off."""
    if not TRACING:
        return None
    from opentelemetry import context, trace

    span = _tracer.start_span(
        f"chat {model}",
        kind=trace.SpanKind.SERVER,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "routerweb.stream": stream,
        },
    )
    # Not detached: the context belongs to this request's task, which ends with the request.
    context.attach(trace.set_span_in_context(span))
    return span


def end_request_span(
    span: Any,
    *,
    response_id: str,
    answered_by: str | None,
    routing: Any,
    input_tokens: int | None,
    output_tokens: int | None,
    error: str | None,
    end_ns: int | None = None,
) -> None:
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    attributes: dict[str, Any] = {
        "gen_ai.response.id": response_id,
        "routerweb.router": routing.router,
        "routerweb.rule": routing.rule_name,
        "routerweb.decision.source": routing.source,
    }
    if answered_by:
        attributes["gen_ai.response.model"] = answered_by
        attributes["gen_ai.response.finish_reasons"] = ("stop",)
    if input_tokens is not None:
        attributes["gen_ai.usage.input_tokens"] = input_tokens
    if output_tokens is not None:
        attributes["gen_ai.usage.output_tokens"] = output_tokens
    if error:
        attributes["error.type"] = error
        span.set_status(Status(StatusCode.ERROR, error))
    span.set_attributes(attributes)
    span.end(end_time=end_ns)


def routing_span(model: str, started_ns: int, routing: Any) -> None:
    """Record the routing step (from `started_ns`, `time.time_ns()`, to now) under the current
    span: router, version, rule, source, chosen model, whether the classifier was asked.
    `routing` is the plan's `routers.facts.RoutingFacts` (or None)."""
    if not TRACING:
        return
    attributes: dict[str, Any] = {"gen_ai.request.model": model}
    if routing is not None:
        classifier = routing.classifier or {}
        attributes |= {
            "routerweb.router": routing.router,
            "routerweb.router.version": routing.router_version,
            "routerweb.rule": routing.rule_name,
            "routerweb.decision.source": routing.source,
            "routerweb.decision.model": routing.model,
            "routerweb.classifier.called": routing.classifier_called,
            "routerweb.classifier.cached": bool(classifier.get("cached")),
        }
    span = _tracer.start_span(f"route {model}", start_time=started_ns, attributes=attributes)
    span.end()


def attempt_span(
    attempt: Mapping[str, Any],
    *,
    kind: str,
    model_id: str,
    base_url: str,
    seconds: float,
    temperature: float | None,
    max_tokens: int | None,
) -> None:
    """Record one call to a provider (an entry of `ChainResult.attempts`, just finished) as a
    CLIENT span under the current span, back-dated by its duration (`seconds`)."""
    if not TRACING:
        return
    from opentelemetry.trace import SpanKind, Status, StatusCode

    now_ns = time.time_ns()
    started_ns = now_ns - int(seconds * 1e9)
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": _GENAI_PROVIDER.get(kind, kind),
        "gen_ai.request.model": model_id,
        "routerweb.model": str(attempt.get("model") or ""),
        "routerweb.attempt.try": int(attempt.get("try") or 0),
        "routerweb.attempt.retried": bool(attempt.get("retried")),
        "routerweb.attempt.continuation": bool(attempt.get("continuation")),
    }
    if attempt.get("outcome"):
        attributes["routerweb.attempt.outcome"] = str(attempt["outcome"])
    if temperature is not None:
        attributes["gen_ai.request.temperature"] = temperature
    if max_tokens is not None:
        attributes["gen_ai.request.max_tokens"] = max_tokens
    if base_url:
        parts = urlsplit(base_url)
        if parts.hostname:
            attributes["server.address"] = parts.hostname
            attributes["server.port"] = parts.port or (443 if parts.scheme == "https" else 80)
    if attempt.get("ok"):
        attributes["gen_ai.response.model"] = model_id
    usage = attempt.get("usage")
    if isinstance(usage, Mapping):
        attributes["gen_ai.usage.input_tokens"] = int(usage.get("input") or 0)
        attributes["gen_ai.usage.output_tokens"] = int(usage.get("output") or 0)
    span = _tracer.start_span(
        f"chat {model_id}", kind=SpanKind.CLIENT, start_time=started_ns, attributes=attributes
    )
    if not attempt.get("ok"):
        error = str(attempt.get("error") or "error")
        span.set_attribute("error.type", error)
        span.set_status(Status(StatusCode.ERROR, str(attempt.get("message") or error)))
    span.end(end_time=now_ns)
