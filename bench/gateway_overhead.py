"""What routing through routerweb adds to an OpenAI call: `/v1/chat/completions` vs the upstream.

    .venv/bin/python bench/gateway_overhead.py [--pairs 300] [--seconds 4] [--redis URL]

Sets up a scratch SQLite database (migrate, a user and token, an OpenAI-kind provider on the
fake upstream, a router with one calculated rule), starts the fake upstream and uvicorn as
subprocesses (DEBUG off), then sends the same request with the official `openai` client
through the app (`model="router:bench"`) and straight to the fake upstream, interleaved:

- concurrency 1, streaming and not: time to first token and total time, pairwise;
- concurrency 16, streaming: requests per second of each path, in alternating rounds;
- a floor: `GET /healthz` (Django's middleware stack, no view work) vs the fake's `GET
  /v1/models`, to tell what the framework costs from what routing adds.

The last line is `overhead median_ms=<n> p95_ms=<n>`: the added time to first token at
concurrency 1, streaming (median and 95th percentile of the per-pair differences).
Target: median ≤ 3 ms, p95 ≤ 8 ms.

`--redis redis://127.0.0.1:6379/15` runs the app as production does: Redis as the shared cache
(circuit breaker, routing-config version) and as the Celery broker (decisions are published to
it; no worker is started, and the database is flushed at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import openai

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

SETUP = """
from accounts.models import User
from accounts.tokens import api_token_create
from chat.models import CatalogModel, Provider
from routers import services
user = User.objects.create_user(username="bench", password="bench-pw-123")
provider = Provider.objects.create(name="Fake", slug="fake", kind="openai", base_url="{base_url}")
provider.api_key = "sk-bench"
provider.save()
for name in ("fake-small", "fake-large"):
    CatalogModel.objects.create(provider=provider, model_id=name, display_name=name,
                                input_price_per_m="1", output_price_per_m="2")
router = services.router_create(owner=user, name="Bench", slug="bench", primary_model="fake/fake-small",
                                 fallbacks=["fake/fake-large"])
services.rule_create(router=router, name="Code", kind="calculated",
                     conditions=[{{"property": "keywords", "operator": "contains_any", "value": ["python"]}}],
                     target_model="fake/fake-large")
print(api_token_create(user=user, name="bench")[1])
"""

# The fake upstream (with Nagle off, as real providers' servers are) in its own process.
FAKE_UPSTREAM = """
import sys
from tests.fake_upstream.__main__ import main
main(["--port", sys.argv[1]])
"""

MESSAGES = [{"role": "user", "content": "Explain briefly what a model router does for a team."}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class Target:
    def __init__(self, name: str, base_url: str, api_key: str, model: str, health: str) -> None:
        self.name = name
        self.health = health
        self.model = model
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        self.client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key,
            max_retries=0,
            timeout=30,
            http_client=httpx.AsyncClient(limits=limits, timeout=30),
        )

    async def stream(self) -> tuple[float, float]:
        started = time.perf_counter()
        first = None
        stream = await self.client.chat.completions.create(
            model=self.model, messages=MESSAGES, stream=True
        )
        async for chunk in stream:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter()
        end = time.perf_counter()
        assert first is not None, f"{self.name}: no text streamed"
        return (first - started) * 1000, (end - started) * 1000

    async def complete(self) -> tuple[float, float]:
        started = time.perf_counter()
        completion = await self.client.chat.completions.create(model=self.model, messages=MESSAGES)
        assert completion.choices[0].message.content
        total = (time.perf_counter() - started) * 1000
        return total, total


async def sequential(
    app: Target, direct: Target, pairs: int, streaming: bool
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {
        "app_ttft": [],
        "app_total": [],
        "direct_ttft": [],
        "direct_total": [],
    }
    for i in range(pairs):
        order = (app, direct) if i % 2 == 0 else (direct, app)
        for target in order:
            ttft, total = await (target.stream() if streaming else target.complete())
            key = "app" if target is app else "direct"
            out[f"{key}_ttft"].append(ttft)
            out[f"{key}_total"].append(total)
    return out


async def burst(target: Target, concurrency: int, seconds: float) -> tuple[int, float, list[float]]:
    deadline = time.perf_counter() + seconds
    ttfts: list[float] = []
    count = 0

    async def worker() -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            ttft, _ = await target.stream()
            ttfts.append(ttft)
            count += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count, time.perf_counter() - started, ttfts


async def run(app: Target, direct: Target, pairs: int, seconds: float) -> None:
    for _ in range(30):  # warm-up: connections, compiled router, token cache, imports
        await app.stream()
        await app.complete()
        await direct.stream()

    rows = []
    stream1 = await sequential(app, direct, pairs, streaming=True)
    plain1 = await sequential(app, direct, pairs, streaming=False)
    for label, data, metric in (
        ("c=1 stream TTFT", stream1, "ttft"),
        ("c=1 stream total", stream1, "total"),
        ("c=1 non-stream total", plain1, "total"),
    ):
        a, d = data[f"app_{metric}"], data[f"direct_{metric}"]
        diffs = [x - y for x, y in zip(a, d, strict=True)]
        rows.append(
            (
                label,
                statistics.median(d),
                pct(d, 95),
                statistics.median(a),
                pct(a, 95),
                statistics.median(diffs),
                pct(diffs, 95),
            )
        )

    # The floor: a trivial request through Django's middleware stack under uvicorn (no view
    # work) against a trivial request to the fake upstream. What routing adds is the rest.
    async with httpx.AsyncClient() as plain:
        floor: dict[str, list[float]] = {"app": [], "direct": []}
        for i in range(pairs):
            for key, url in (
                (("app", app.health), ("direct", direct.health))
                if i % 2 == 0
                else (("direct", direct.health), ("app", app.health))
            ):
                started = time.perf_counter()
                await plain.get(url)
                floor[key].append((time.perf_counter() - started) * 1000)
    a, d = floor["app"], floor["direct"]
    diffs = [x - y for x, y in zip(a, d, strict=True)]
    rows.append(
        (
            "c=1 trivial GET",
            statistics.median(d),
            pct(d, 95),
            statistics.median(a),
            pct(a, 95),
            statistics.median(diffs),
            pct(diffs, 95),
        )
    )

    rps: dict[str, list[tuple[int, float]]] = {"app": [], "direct": []}
    ttft16: dict[str, list[float]] = {"app": [], "direct": []}
    for round_no in range(4):
        order = (app, direct) if round_no % 2 == 0 else (direct, app)
        for target in order:
            key = "app" if target is app else "direct"
            count, elapsed, ttfts = await burst(target, 16, seconds / 2)
            rps[key].append((count, elapsed))
            ttft16[key].extend(ttfts)
    a, d = ttft16["app"], ttft16["direct"]
    rows.append(
        (
            "c=16 stream TTFT",
            statistics.median(d),
            pct(d, 95),
            statistics.median(a),
            pct(a, 95),
            statistics.median(a) - statistics.median(d),
            pct(a, 95) - pct(d, 95),
        )
    )

    print()
    print(
        f"{'ms':<22}{'direct p50':>11}{'p95':>8}{'app p50':>10}{'p95':>8}{'added p50':>11}{'p95':>8}"
    )
    for label, *values in rows:
        print(
            f"{label:<22}"
            + "".join(f"{v:>{w}.2f}" for v, w in zip(values, (11, 8, 10, 8, 11, 8), strict=True))
        )
    for key in ("direct", "app"):
        total = sum(c for c, _ in rps[key])
        elapsed = sum(e for _, e in rps[key])
        print(f"c=16 streaming requests/s {key:<7} {total / elapsed:8.1f}  ({total} requests)")
    print(
        "(c=16 row: added = difference of the percentiles; c=1 rows: percentiles of per-pair differences)"
    )
    diffs = [x - y for x, y in zip(stream1["app_ttft"], stream1["direct_ttft"], strict=True)]
    print(f"overhead median_ms={statistics.median(diffs):.2f} p95_ms={pct(diffs, 95):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--pairs", type=int, default=300, help="interleaved request pairs per c=1 series"
    )
    parser.add_argument(
        "--seconds", type=float, default=4.0, help="c=16 time per path (in 4 alternating rounds)"
    )
    parser.add_argument(
        "--redis", metavar="URL", help="a scratch Redis database for cache and broker (flushed)"
    )
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    scratch = Path(tempfile.mkdtemp(prefix="routerweb-bench-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "routerweb.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + os.urandom(16).hex(),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SQLITE_PATH": str(scratch / "db.sqlite3"),
        "ROUTERWEB_LOCAL_DIR": str(scratch / "local"),
        "STATIC_ROOT": str(scratch / "static"),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    if args.redis:
        env["REDIS_URL"] = args.redis

    procs: list[subprocess.Popen] = []
    try:
        fake_port = free_port()
        procs.append(
            subprocess.Popen(
                [PY, "-c", FAKE_UPSTREAM, str(fake_port)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
            )
        )
        fake_url = f"http://127.0.0.1:{fake_port}"
        wait_http(f"{fake_url}/v1/models")

        manage = [PY, "manage.py"]
        subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
        token = (
            subprocess.run(
                [*manage, "shell", "-c", SETUP.format(base_url=f"{fake_url}/v1")],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )

        app_port = free_port()
        procs.append(
            subprocess.Popen(
                [
                    PY,
                    "-m",
                    "uvicorn",
                    "routerweb.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(app_port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                cwd=ROOT,
                env=env,
            )
        )
        app_url = f"http://127.0.0.1:{app_port}"
        wait_http(f"{app_url}/healthz")

        app = Target("app", f"{app_url}/v1", token, "router:bench", f"{app_url}/healthz")
        direct = Target(
            "direct", f"{fake_url}/v1", "sk-bench", "fake-small", f"{fake_url}/v1/models"
        )
        stack = f"SQLite {scratch}" + (f", Redis {args.redis}" if args.redis else "")
        print(f"routerweb {app_url} (uvicorn, DEBUG off, {stack}) vs fake upstream {fake_url}")
        asyncio.run(run(app, direct, args.pairs, args.seconds))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if args.redis:
            import redis

            redis.Redis.from_url(args.redis).flushdb()


if __name__ == "__main__":
    main()
