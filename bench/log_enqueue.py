"""What logging a routing decision adds to a request: enqueue to Celery on Redis vs no logging.

Run: .venv/bin/python bench/log_enqueue.py   (needs Redis on 127.0.0.1:6379; uses DB 9 as broker)

Both paths build the same decision payload; the measured path also hands it to Celery
(`decision_log` → `apply_async` on the Redis broker). Interleaved in one run, so machine
noise hits both alike. The last line is `log_enqueue median_us=<added median>`.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routerweb.settings")
os.environ.setdefault("SQLITE_PATH", str(Path(tempfile.mkdtemp()) / "bench.sqlite3"))
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/9")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from decisions.log import decision_log, new_payload  # noqa: E402
from routerweb.celery import app  # noqa: E402

ITERATIONS = int(os.environ.get("BENCH_ITERATIONS", "3000"))
FIELDS = dict(
    router_id=1,
    router_version=3,
    rule_id=7,
    rule_name="Code questions",
    source="rule",
    reason='Rule "Code questions": message contains any of "python"',
    model_ref="demo/coder",
    answered_by="demo/coder",
    attempts=[{"model": "demo/coder", "ok": True}],
    verdicts=[],
    classifier_called=False,
    decision_us=35.0,
    input_tokens=120,
    output_tokens=380,
    cost="0.000279",
    primary_cost="0.000077",
    fallback_used=False,
    overridden=False,
    succeeded=True,
    channel="chat",
    user_id=1,
    workspace_id=1,
    message_id=1,
)


def no_logging() -> None:
    new_payload(**FIELDS)


def with_logging() -> None:
    decision_log(new_payload(**FIELDS))  # autocommit: on_commit publishes at once


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    assert not app.conf.task_always_eager, "a broker must be configured"
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        conn.default_channel.client.flushdb()  # an empty queue: we measure publishing, not a backlog
    for _ in range(200):  # warm up connections and code paths
        no_logging()
        with_logging()
    base, logged = [], []
    for _ in range(ITERATIONS):
        t0 = time.perf_counter_ns()
        no_logging()
        t1 = time.perf_counter_ns()
        with_logging()
        t2 = time.perf_counter_ns()
        base.append((t1 - t0) / 1000)
        logged.append((t2 - t1) / 1000)
    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    added = [b - a for a, b in zip(base, logged, strict=True)]
    print(f"{'path':<22}{'median µs':>12}{'p95 µs':>10}{'p99 µs':>10}")
    for name, values in (
        ("no logging", base),
        ("enqueue (Redis)", logged),
        ("added by logging", added),
    ):
        print(
            f"{name:<22}{statistics.median(values):>12.1f}{percentile(values, 0.95):>10.1f}{percentile(values, 0.99):>10.1f}"
        )
    ratio = statistics.median(logged) / max(statistics.median(base), 0.001)
    print(
        f"enqueue/no-logging ratio: {ratio:.1f}x over {ITERATIONS} interleaved iterations; target added median ≤ 1000 µs"
    )
    print(f"log_enqueue median_us={statistics.median(added):.0f}")


if __name__ == "__main__":
    main()
