"""Does a change make the gateway faster? Two checkouts, interleaved, against the same relay.

    .venv/bin/python bench/gateway_ab.py --other /path/to/other/checkout [--pairs 300]
        [--seconds 4] [--llm] [--redis URL --postgres URL --worker]

On a shared machine the same code's ratio to the relay moves by about ±0.1 from one run of
`bench/gateway_overhead.py` to the next, more than most single changes are worth, so two runs
of it, one per commit, cannot tell whether a change helped. This runs **A** (this checkout) and
**B** (`--other`, a second checkout or `git worktree` of the same schema) side by side, on one
fake upstream and one bare relay, with the same `openai`-client requests in a shuffled order
every round, so whatever else the machine is doing hits both alike, and prints each one's added
median TTFT and non-stream time (and, with `--seconds`, req/s at concurrency 16) with its ratio
to the relay, then B against A.

Each app has its own copy of the scratch SQLite database (the embedded default), so their
decision logs do not contend for one file; with `--postgres` both use the one database (and,
with `--redis`, one cache, broker and `--worker`), as two web processes of one instance do.
`--llm` measures the router whose LLM rule's verdict is cached instead of the calculated one.
Run A against itself (`--other .`) first to see how far apart two identical apps land today.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
from pathlib import Path

from gateway_overhead import (
    Target,
    add_stack_arguments,
    added,
    burst,
    describe,
    interleaved,
    pct,
    ratio,
    start_app,
    start_bench,
    stop_bench,
    warm_up,
)


async def run(
    direct: Target, relay: Target, a: Target, b: Target, args: argparse.Namespace
) -> None:
    paths = [direct, relay, a, b]
    await warm_up(paths)
    await interleaved(paths, args.pairs)
    if args.seconds:
        for round_no in range(4):
            order = paths[1:] if round_no % 2 == 0 else paths[:0:-1]
            for target in order:
                target.rps.append(await burst(target, 16, args.seconds / 2))

    relay_t, relay_n = added(relay, direct, "ttft"), added(relay, direct, "nonstream")
    print(
        f"relay: added TTFT {statistics.median(relay_t):.2f} ms, "
        f"non-stream {statistics.median(relay_n):.2f} ms"
        + (f", {relay.requests_per_second():.1f} req/s" if args.seconds else "")
    )
    medians = {}
    for target in (a, b):
        t, n = added(target, direct, "ttft"), added(target, direct, "nonstream")
        medians[target.name] = (statistics.median(t), statistics.median(n))
        line = (
            f"{target.name}: added TTFT {statistics.median(t):.2f} ms "
            f"(vs relay {ratio(statistics.median(t), statistics.median(relay_t)):.2f}, "
            f"p95 {ratio(pct(t, 95), pct(relay_t, 95)):.2f}), non-stream "
            f"{statistics.median(n):.2f} ms "
            f"(vs relay {ratio(statistics.median(n), statistics.median(relay_n)):.2f}, "
            f"p95 {ratio(pct(n, 95), pct(relay_n, 95)):.2f})"
        )
        if args.seconds:
            rps = target.requests_per_second()
            line += f", {rps:.1f} req/s (vs relay {ratio(rps, relay.requests_per_second()):.2f})"
        print(line)
    (a_t, a_n), (b_t, b_n) = medians[a.name], medians[b.name]
    summary = f"B / A: added TTFT {ratio(b_t, a_t):.2f} non-stream {ratio(b_n, a_n):.2f}"
    if args.seconds:
        summary += f" req/s {ratio(b.requests_per_second(), a.requests_per_second()):.2f}"
    print(summary)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--other", type=Path, required=True, help="the checkout to run as B")
    parser.add_argument("--pairs", type=int, default=300, help="rounds at concurrency 1")
    parser.add_argument(
        "--seconds", type=float, default=0.0, help="c=16 time per path (0: no req/s)"
    )
    parser.add_argument("--llm", action="store_true", help="the LLM-rule router")
    add_stack_arguments(parser)
    args = parser.parse_args()
    other = args.other.resolve()
    if not (other / "routerweb" / "asgi.py").exists():
        parser.error(f"{other} is not a routerweb checkout")

    bench = start_bench(args, parser)
    try:
        b_env = bench.env
        if not args.postgres:  # copied before either app opens it (and writes to its WAL)
            copy = Path(bench.env["SQLITE_PATH"] + ".b")
            shutil.copy(bench.env["SQLITE_PATH"], copy)
            b_env = bench.env | {"SQLITE_PATH": str(copy)}
        a_url = start_app(bench)
        b_url = start_app(bench, root=other, env=b_env)
        model = "router:bench-llm" if args.llm else "router:bench"

        def app(name: str, url: str) -> Target:
            return Target(name, f"{url}/v1", bench.token, model, metrics_url=f"{url}/metrics")

        print(describe(bench, args))
        print(f"A: {Path(__file__).resolve().parent.parent}\nB: {other}\nrouter: {model}")
        asyncio.run(
            run(
                Target("direct", f"{bench.fake_url}/v1", "sk-bench", "fake-small"),
                Target("relay", f"{bench.relay_url}/v1", "sk-bench", "fake-small"),
                app("A", a_url),
                app("B", b_url),
                args,
            )
        )
    finally:
        stop_bench(bench, args)


if __name__ == "__main__":
    main()
