"""What routing through routerweb adds to an OpenAI call, against the floor of a Python relay.

    .venv/bin/python bench/gateway_overhead.py [--pairs 200] [--seconds 4]
        [--redis redis://127.0.0.1:6379/15] [--postgres postgres://postgres@127.0.0.1:5432/routerweb_speed]
        [--worker] [--litellm /path/to/bench-venv/bin/litellm] [--no-two-web]

Starts, as subprocesses on loopback: the fake upstream (`tests/fake_upstream`, OpenAI wire
format), a **bare relay** (`bench/relay.py`: starlette + httpx under uvicorn, no auth, routing
or logging — the floor any Python gateway pays here), **LiteLLM's proxy** when its `litellm`
command is found (install it in a bench-only virtualenv: `python -m venv /work/bench-venv &&
/work/bench-venv/bin/pip install 'litellm[proxy]'`; never a routerweb dependency; skipped with a
note otherwise), and **routerweb** under uvicorn (DEBUG off) with a scratch database: a user and
token, an OpenAI-kind provider on the fake, a router `bench` with one calculated rule, and a
router `bench-llm` whose first rule is LLM-classified (its verdict is cached after the warm-up,
so that path measures a cached verdict), and the same app as 2 uvicorn worker processes.

Every path gets the same request from the official `openai` client. Measured, interleaved in
shuffled order so that noise from the other processes on the machine hits every path alike:

- concurrency 1, streaming: time to first token (TTFT); non-streaming: total time. Each path's
  *added* time is its time minus the direct call's in the same round;
- concurrency 16, streaming: requests per second of each path, in alternating rounds; a
  routerweb burst lasts until its `/metrics` shows every answer's decision logged, so the
  logging (in-process on the embedded default) is counted in its own throughput.

The table gives, per path, added TTFT and added non-stream time (median / p95) and req/s.
Then `vs_relay_llm …` (the LLM-rule router against the relay), and the last two lines:

    vs_relay ttft=<r> nonstream=<r> rps=<r>       routerweb / relay: added median TTFT, added
                                                  median non-stream time, req/s at c=16
    overhead median_ms=<n> p95_ms=<n>             routerweb's added TTFT (ms) at c=1

Targets (issue 18): ttft and nonstream ratios ≤ 1.5 (their p95 ratios, printed in the table,
≤ 2), rps ratio ≥ 0.85, for both routers.

`--redis URL` uses Redis as the shared cache and Celery broker (the database is flushed at the
end); `--postgres URL` uses PostgreSQL (the database named in the URL is dropped and created
afresh: give it a scratch name); `--worker` also starts a Celery worker, so that together they
run the stack production runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import openai

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DEFAULT_LITELLM = Path("/work/bench-venv/bin/litellm")

SETUP = """
from accounts.models import User
from accounts.tokens import api_token_create
from providers.models import CatalogModel, Provider
from routers import services
from routers.versions import router_publish
user = User.objects.create_user(username="bench", password="bench-pw-123")
provider = Provider.objects.create(name="Fake", slug="fake", kind="openai", base_url="{base_url}")
provider.api_key = "sk-bench"
provider.save()
for name in ("fake-small", "fake-large"):
    CatalogModel.objects.create(provider=provider, model_id=name, display_name=name,
                                input_price_per_m="1", output_price_per_m="2")
code = [{{"property": "keywords", "operator": "contains_any", "value": ["python"]}}]
router = services.router_create(owner=user, actor=user, name="Bench", slug="bench", primary_model="fake/fake-small",
                                 fallbacks=["fake/fake-large"])
services.rule_create(router=router, actor=user, name="Code", kind="calculated", conditions=code,
                     target_model="fake/fake-large")
llm = services.router_create(owner=user, actor=user, name="Bench LLM", slug="bench-llm",
                              primary_model="fake/fake-small", fallbacks=["fake/fake-large"])
services.rule_create(router=llm, actor=user, name="Legal", kind="llm",
                     description="questions about contracts, law or compliance",
                     target_model="fake/fake-large")
services.rule_create(router=llm, actor=user, name="Code", kind="calculated", conditions=code,
                     target_model="fake/fake-large")
# Traffic routes with the published version: publish the rules just added to the drafts.
router_publish(router=router, actor=user)
router_publish(router=llm, actor=user)
print(api_token_create(user=user, name="bench")[1])
"""

# The fake upstream (with Nagle off, as real providers' servers are) in its own process.
FAKE_UPSTREAM = """
import sys
from tests.fake_upstream import server
from tests.fake_upstream.__main__ import main
# socketserver's listen backlog is 5: a burst of new connections from three proxies at
# concurrency 16 would overflow it and see connection resets that are not the paths' fault.
server._Server.request_queue_size = 256
main(["--port", sys.argv[1]])
"""

LITELLM_CONFIG = """\
model_list:
  - model_name: fake-small
    litellm_params:
      model: openai/fake-small
      api_base: {base_url}
      api_key: sk-bench
litellm_settings:
  telemetry: false
  drop_params: true
"""

MESSAGES = [{"role": "user", "content": "Explain briefly what a model router does for a team."}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


@dataclass
class Target:
    name: str
    base_url: str
    api_key: str
    model: str
    ttft: list[float] = field(default_factory=list)
    nonstream: list[float] = field(default_factory=list)
    rps: list[tuple[int, float]] = field(default_factory=list)
    # routerweb's /metrics: a burst ends when every answer's decision has been logged there.
    metrics_url: str = ""

    def __post_init__(self) -> None:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        self.client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.api_key,
            max_retries=0,
            timeout=30,
            http_client=httpx.AsyncClient(limits=limits, timeout=30),
        )

    async def stream(self) -> float:
        started = time.perf_counter()
        first = None
        stream = await self.client.chat.completions.create(
            model=self.model, messages=MESSAGES, stream=True
        )
        async for chunk in stream:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter()
        assert first is not None, f"{self.name}: no text streamed"
        return (first - started) * 1000

    async def complete(self) -> float:
        started = time.perf_counter()
        completion = await self.client.chat.completions.create(model=self.model, messages=MESSAGES)
        assert completion.choices[0].message.content, f"{self.name}: no text"
        return (time.perf_counter() - started) * 1000

    def requests_per_second(self) -> float:
        return sum(c for c, _ in self.rps) / sum(e for _, e in self.rps)


async def burst(target: Target, concurrency: int, seconds: float) -> tuple[int, float]:
    deadline = time.perf_counter() + seconds
    count = 0

    async def worker() -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            try:
                await target.stream()
            except Exception as exc:
                raise RuntimeError(f"{target.name}: {exc!r}") from exc
            count += 1

    logged_before = await logged(target)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if target.metrics_url:
        # The app logs each decision after its answer, in the same process: the time that
        # takes is part of its throughput, so a burst lasts until the last one is logged (and
        # its backlog never slows down the next path's burst).
        limit = time.perf_counter() + 60
        while await logged(target) < logged_before + count and time.perf_counter() < limit:
            await asyncio.sleep(0.02)
    return count, time.perf_counter() - started


async def logged(target: Target) -> float:
    """Answers routerweb has counted (logged) so far, from its /metrics."""
    if not target.metrics_url:
        return 0.0
    from prometheus_client.parser import text_string_to_metric_families

    async with httpx.AsyncClient() as client:
        text = (await client.get(target.metrics_url)).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "routerweb_requests_total"
    )


def added(target: Target, direct: Target, metric: str) -> list[float]:
    ours, base = getattr(target, metric), getattr(direct, metric)
    return [x - y for x, y in zip(ours, base, strict=True)]


def ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("inf")


async def warm_up(targets: list[Target]) -> None:
    """Connections, caches, imports, the LLM rule's verdict."""
    for target in targets:
        for _ in range(20):
            await target.stream()
            await target.complete()


async def interleaved(paths: list[Target], rounds: int) -> None:
    """Concurrency 1, every path once per round in a shuffled order: a rotating order would
    give each path the same neighbour every round (the path after LiteLLM would always inherit
    the work LiteLLM does after answering), shuffling spreads that over every path alike."""
    shuffler = random.Random(18)
    for _ in range(rounds):
        order = shuffler.sample(paths, len(paths))
        for target in order:
            target.ttft.append(await target.stream())
        for target in reversed(order):
            target.nonstream.append(await target.complete())


async def run(
    direct: Target,
    relay: Target,
    app: Target,
    app_llm: Target,
    others: list[Target],
    extra_rps: list[Target],
    args: argparse.Namespace,
) -> None:
    paths = [direct, relay, *others, app, app_llm]
    await warm_up(paths + extra_rps)
    await interleaved(paths, args.pairs)

    # Concurrency 16, alternating rounds.
    everyone = paths + extra_rps
    for round_no in range(4):
        order = everyone if round_no % 2 == 0 else list(reversed(everyone))
        for target in order:
            target.rps.append(await burst(target, 16, args.seconds / 2))

    print()
    print(
        f"{'path':<34}{'added TTFT p50':>15}{'p95':>8}{'added non-stream p50':>22}{'p95':>8}"
        f"{'req/s @16':>11}"
    )
    for target in paths + extra_rps:
        if target is direct:
            cells = f"{'–':>15}{'–':>8}{'–':>22}{'–':>8}"
        elif target.ttft:
            t, n = added(target, direct, "ttft"), added(target, direct, "nonstream")
            cells = (
                f"{statistics.median(t):>15.2f}{pct(t, 95):>8.2f}"
                f"{statistics.median(n):>22.2f}{pct(n, 95):>8.2f}"
            )
        else:
            cells = f"{'(req/s only)':>53}"
        print(f"{target.name:<34}{cells}{target.requests_per_second():>11.1f}")
    print("(ms; added = the path's time minus the direct call's in the same round)")
    print("load average (1, 5, 15 min) at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    relay_t, relay_n = added(relay, direct, "ttft"), added(relay, direct, "nonstream")
    summary = []
    for label, target in (("vs_relay_llm", app_llm), ("vs_relay", app)):
        t, n = added(target, direct, "ttft"), added(target, direct, "nonstream")
        rps = ratio(target.requests_per_second(), relay.requests_per_second())
        print(
            f"{target.name} / relay: added TTFT p50 "
            f"{ratio(statistics.median(t), statistics.median(relay_t)):.2f} "
            f"p95 {ratio(pct(t, 95), pct(relay_t, 95)):.2f}; added non-stream p50 "
            f"{ratio(statistics.median(n), statistics.median(relay_n)):.2f} "
            f"p95 {ratio(pct(n, 95), pct(relay_n, 95)):.2f}; req/s {rps:.2f}"
        )
        summary.append(
            f"{label} ttft={ratio(statistics.median(t), statistics.median(relay_t)):.2f} "
            f"nonstream={ratio(statistics.median(n), statistics.median(relay_n)):.2f} rps={rps:.2f}"
        )
    print("\n".join(summary))
    t = added(app, direct, "ttft")
    print(f"overhead median_ms={statistics.median(t):.2f} p95_ms={pct(t, 95):.2f}")


class Stack:
    """The subprocesses of one run, stopped in reverse order however the run ends."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(
        self, argv: list[str], env: dict[str, str], cwd: Path = ROOT, **kwargs
    ) -> subprocess.Popen:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, **kwargs)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def uvicorn(app: str, port: int, workers: int = 1) -> list[str]:
    argv = [PY, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--log-level", "warning", "--no-access-log"]
    # uvicorn closes idle keep-alive connections after 5 s; a pooled connection idle that long
    # between rounds would race the close and fail a request that was never the path's fault.
    argv += ["--timeout-keep-alive", "120"]
    if workers > 1:
        argv += ["--workers", str(workers)]
    return argv


def fresh_postgres(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


@dataclass
class Bench:
    """The servers every run shares: the fake upstream, the relay, a scratch database with the
    bench's user, token, provider and routers, and (with --worker) a Celery worker."""

    stack: Stack
    env: dict[str, str]
    scratch: Path
    fake_url: str
    relay_url: str
    token: str


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redis", metavar="URL", help="scratch Redis db for cache + broker")
    parser.add_argument("--postgres", metavar="URL", help="scratch PostgreSQL database (recreated)")
    parser.add_argument("--worker", action="store_true", help="start a Celery worker too")


def start_bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Bench:
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
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        env.pop(name, None)
    if args.redis:
        env["REDIS_URL"] = args.redis
    if args.postgres:
        fresh_postgres(args.postgres)
        env["DATABASE_URL"] = args.postgres
        env["DB_CONN_MAX_AGE"] = "60"
    if args.worker and not args.redis:
        parser.error("--worker needs --redis (the broker)")

    stack = Stack()
    bench = Bench(stack, env, scratch, "", "", "")
    try:
        fake_port = free_port()
        stack.start([PY, "-c", FAKE_UPSTREAM, str(fake_port)], env, stdout=subprocess.DEVNULL)
        bench.fake_url = f"http://127.0.0.1:{fake_port}"
        wait_http(f"{bench.fake_url}/v1/models")

        manage = [PY, "manage.py"]
        subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
        bench.token = (
            subprocess.run(
                [*manage, "shell", "-c", SETUP.format(base_url=f"{bench.fake_url}/v1")],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        if args.worker:
            stack.start(
                [PY, "-m", "celery", "-A", "routerweb", "worker", "--concurrency=1"]
                + ["--loglevel=WARNING", "--without-gossip", "--without-mingle"],
                env,
            )

        relay_port = free_port()
        relay_proc = stack.start(
            uvicorn("bench.relay:app", relay_port),
            env | {"RELAY_UPSTREAM": f"{bench.fake_url}/v1"},
        )
        bench.relay_url = f"http://127.0.0.1:{relay_port}"
        wait_http(f"{bench.relay_url}/healthz", proc=relay_proc)
    except BaseException:
        stop_bench(bench, args)
        raise
    return bench


def start_app(
    bench: Bench, *, root: Path = ROOT, workers: int = 1, env: dict[str, str] | None = None
) -> str:
    """routerweb from the checkout at `root` under uvicorn; its base URL."""
    port = free_port()
    proc = bench.stack.start(
        uvicorn("routerweb.asgi:application", port, workers=workers),
        (env or bench.env) | {"PYTHONPATH": str(root)},
        cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/healthz", proc=proc)
    return url


def stop_bench(bench: Bench, args: argparse.Namespace) -> None:
    bench.stack.stop()
    if args.redis:
        import redis

        redis.Redis.from_url(args.redis).flushdb()
    shutil.rmtree(bench.scratch, ignore_errors=True)


def describe(bench: Bench, args: argparse.Namespace) -> str:
    db = "PostgreSQL" if args.postgres else "SQLite"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    cache = "Redis cache + broker" if args.redis else "local-memory cache, in-process tasks"
    worker = ", Celery worker" if args.worker else ""
    return textwrap.dedent(
        f"""\
        {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())} on {socket.gethostname()},
        {os.cpu_count()} CPUs shared by client, upstream and servers;
        routerweb: uvicorn, DEBUG off, {db}, {cache}{worker}; fake upstream {bench.fake_url}
        load average (1, 5, 15 min) at the start: {load}"""
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=200, help="rounds at concurrency 1")
    parser.add_argument(
        "--seconds", type=float, default=4.0, help="c=16 time per path (in 4 alternating rounds)"
    )
    add_stack_arguments(parser)
    parser.add_argument("--litellm", type=Path, help=f"the litellm command ({DEFAULT_LITELLM})")
    parser.add_argument("--no-litellm", action="store_true", help="do not measure LiteLLM")
    parser.add_argument(
        "--no-two-web", action="store_true", help="skip req/s of 2 uvicorn web processes"
    )
    args = parser.parse_args()

    litellm = args.litellm or (DEFAULT_LITELLM if DEFAULT_LITELLM.exists() else None)
    if litellm is None and shutil.which("litellm"):
        litellm = Path(shutil.which("litellm") or "")
    if args.no_litellm:
        litellm = None

    bench = start_bench(args, parser)
    stack, env, scratch = bench.stack, bench.env, bench.scratch
    fake_url, token = bench.fake_url, bench.token
    try:
        app_url = start_app(bench)

        direct = Target("direct to upstream", f"{fake_url}/v1", "sk-bench", "fake-small")
        relay = Target(
            "bare relay (starlette + httpx)", f"{bench.relay_url}/v1", "sk-bench", "fake-small"
        )
        app = Target(
            "routerweb (calculated rule)",
            f"{app_url}/v1",
            token,
            "router:bench",
            metrics_url=f"{app_url}/metrics",
        )
        app_llm = Target(
            "routerweb (LLM rule, cached verdict)",
            f"{app_url}/v1",
            token,
            "router:bench-llm",
            metrics_url=f"{app_url}/metrics",
        )
        others: list[Target] = []
        extra: list[Target] = []
        if litellm is not None and litellm.exists():
            config = scratch / "litellm.yaml"
            config.write_text(LITELLM_CONFIG.format(base_url=f"{fake_url}/v1"))
            litellm_port = free_port()
            litellm_key = "sk-" + os.urandom(32).hex()
            version = subprocess.run(
                [
                    str(litellm.parent / "python"),
                    "-c",
                    "import litellm, importlib.metadata as m;print(m.version('litellm'))",
                ],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            litellm_proc = stack.start(
                [str(litellm), "--config", str(config), "--host", "127.0.0.1"]
                + ["--port", str(litellm_port), "--num_workers", "1"],
                # Not routerweb's DATABASE_URL / REDIS_URL: LiteLLM would use them as its own.
                {k: v for k, v in env.items() if k not in ("DATABASE_URL", "REDIS_URL")}
                | {
                    "LITELLM_LOG": "ERROR",
                    "LITELLM_TELEMETRY": "False",
                    # It refuses to start without one; routerweb checks a token too.
                    "LITELLM_MASTER_KEY": litellm_key,
                },
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            litellm_url = f"http://127.0.0.1:{litellm_port}"
            wait_http(f"{litellm_url}/health/liveliness", timeout=180, proc=litellm_proc)
            others.append(
                Target(
                    f"LiteLLM proxy {version}".strip(),
                    f"{litellm_url}/v1",
                    litellm_key,
                    "fake-small",
                ),
            )
        else:
            print(
                "note: LiteLLM proxy not measured (no `litellm` command; install it in a "
                "bench-only venv: python -m venv /work/bench-venv && "
                "/work/bench-venv/bin/pip install 'litellm[proxy]', or pass --litellm PATH)"
            )
        if not args.no_two_web:
            app2_url = start_app(
                bench,
                workers=2,
                # Both workers count into one directory, as scripts/start-web.sh sets up.
                env=env | {"PROMETHEUS_MULTIPROC_DIR": str(Path(tempfile.mkdtemp(dir=scratch)))},
            )
            extra.append(
                Target(
                    "routerweb, 2 web processes",
                    f"{app2_url}/v1",
                    token,
                    "router:bench",
                    metrics_url=f"{app2_url}/metrics",
                )
            )

        print(describe(bench, args))
        asyncio.run(run(direct, relay, app, app_llm, others, extra, args))
    finally:
        stop_bench(bench, args)


if __name__ == "__main__":
    main()
