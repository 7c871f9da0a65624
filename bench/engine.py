"""Benchmark of the routing engine's decision time (no classifier, no I/O).

Worst case: a 25-rule calculated router (keywords, regexes, numeric and time conditions)
where no rule matches, so every rule is evaluated, plus a variant whose last rule
matches. Each decision is `route()` on a fresh `RouteInput` (features are per input, so
nothing is reused between decisions), timed with perf_counter_ns after a warm-up. A
trivial 1-rule router is timed in the same run as a baseline, so the figures read as
ratios on whatever machine runs this.

Worst case for keywords (issue 11): 20 phrases as long as a keyword may be, whose first
words all recur in a 100,000-character message built to almost match them ("w w w … w"),
and a router holding as many keywords as a router may (engine/limits.py) on a
100,000-character message made of their words, each against one regex scan of the same text.
Keywords are RE2 patterns found in the same
single linear-time pass as the regexes (engine/regexes.py), so this costs one scan
of the text — before, each near-miss re-checked the phrase and this took seconds.

Run: .venv/bin/python bench/engine.py [--iterations N]
The last lines are `worst_case_keywords median_ms=… first_ms=… at_caps_median_ms=…
at_caps_first_ms=…` and
`engine median_us=<n> p99_us=<n>` for the 4,000-character message.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter_ns

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import (  # noqa: E402
    CompiledRouter,
    HistoryMessage,
    ModelInfo,
    RouteInput,
    RouterSpec,
    RuleSpec,
    compile_router,
    route,
)
from engine.limits import (  # noqa: E402
    MAX_ITEM_CHARS,
    MAX_KEYWORD_CHARS_PER_ROUTER,
    MAX_KEYWORDS_PER_ROUTER,
    MAX_LIST_ITEMS,
)

MODELS = {
    ref: ModelInfo(ref, ref, window, images)
    for ref, window, images in (
        ("openai/gpt-4o", 128_000, True),
        ("openai/gpt-4o-mini", 128_000, True),
        ("anthropic/claude-sonnet", 200_000, True),
        ("local/llama-8b", 8_192, False),
    )
}
TARGETS = tuple(MODELS)
# Ordinary words that none of the benchmark's keywords or patterns match.
WORDS = (
    "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "we",
    "discuss", "routing", "of", "messages", "between", "several", "models", "and", "their",
    "costs", "latency", "budgets", "teams", "weekly", "reports", "plans",
)  # fmt: skip


def _rule(rule_id: int, conditions: list[dict[str, object]], match: str = "all") -> RuleSpec:
    return RuleSpec(
        rule_id,
        f"Rule {rule_id}",
        "calculated",
        TARGETS[rule_id % len(TARGETS)],
        match=match,  # type: ignore[arg-type]
        conditions=tuple(conditions),
        fallbacks=("openai/gpt-4o-mini",),
    )


def _cond(prop: str, operator: str, value: object = None) -> dict[str, object]:
    return {"property": prop, "operator": operator, "value": value}


def heavy_router(last_matches: bool) -> CompiledRouter:
    """25 rules, none matching the benchmark messages (or only the last one)."""
    rules = []
    keyword_sets = [
        ["kubernetes", "helm chart", "kubectl"],
        ["contract", "liability", "indemnity", "gdpr"],
        ["stack trace", "segfault", "traceback"],
        ["invoice", "refund", "chargeback"],
        ["poem", "haiku", "sonnet"],
        ["translate", "translation"],
        ["sql", "postgres", "query plan"],
        ["diagnosis", "symptom", "prescription"],
    ]
    for i, words in enumerate(keyword_sets):
        operator = "contains_all" if i % 3 == 2 else "contains_any"
        rules.append(_rule(len(rules) + 1, [_cond("keywords", operator, words)]))
    regexes = [
        r"\b(error|exception)\s+\d{3}\b",
        r"(?i)traceback \(most recent call last\)",
        r"^\s*(SELECT|INSERT|UPDATE)\b",
        r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}",
        r"https?://[^\s]+\.(pdf|docx)",
        r"[A-Z]{2,}-\d+",
    ]
    for pattern in regexes:
        rules.append(_rule(len(rules) + 1, [_cond("regex", "matches", pattern)]))
    numeric = [
        [_cond("message_tokens", "gt", 100_000)],
        [_cond("conversation_tokens", "between", [150_000, 400_000])],
        [_cond("turns", "gte", 40)],
        [_cond("message_chars", "lt", 10), _cond("turns", "gt", 5)],
        [_cond("message_chars", "gt", 50_000), _cond("keywords", "contains_any", ["summary"])],
        [_cond("turns", "gt", 100), _cond("message_tokens", "lt", 5)],
    ]
    for conditions in numeric:
        rules.append(_rule(len(rules) + 1, conditions, match="any" if len(rules) % 2 else "all"))
    # Time rules that cannot match 12:00 UTC in their zone, plus mixed-condition rules.
    time_rules = [
        [_cond("time_of_day", "between", ["22:00", "06:00"])],
        [_cond("day_of_week", "contains_any", ["sat", "sun"])],
        [_cond("time_of_day", "lt", "08:00"), _cond("message_chars", "gt", 10)],
        [_cond("time_of_day", "gte", "20:00")],
        [_cond("message_tokens", "gt", 10), _cond("regex", "matches", r"(?i)urgent|asap")],
    ]
    for conditions in time_rules:
        rules.append(_rule(len(rules) + 1, conditions))
    if last_matches:
        last = rules[-1]
        rules[-1] = _rule(last.id, [_cond("message_tokens", "gt", 10)])
    assert len(rules) == 25
    spec = RouterSpec(
        1,
        "openai/gpt-4o",
        version=1,
        rules=tuple(rules),
        models=MODELS,
        fallbacks=("anthropic/claude-sonnet",),
        time_zone="UTC",
    )
    return compile_router(spec)


def trivial_router() -> CompiledRouter:
    spec = RouterSpec(
        2,
        "openai/gpt-4o",
        rules=(_rule(1, [_cond("message_tokens", "gt", 100_000)]),),
        models=MODELS,
    )
    return compile_router(spec)


def message(chars: int, seed: int) -> str:
    rng = random.Random(seed)
    words: list[str] = []
    length = 0
    while length <= chars:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    text = " ".join(words)[:chars]
    return text[:1].upper() + text[1:]


def inputs(chars: int, count: int = 64) -> list[RouteInput]:
    now = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # a Wednesday, midday
    history = (
        HistoryMessage("user", message(300, 1)),
        HistoryMessage("assistant", message(900, 2)),
    )
    return [
        RouteInput(message(chars, seed), now=now, history=history, user="ada", groups=("eng",))
        for seed in range(count)
    ]


def timings(router: CompiledRouter, batch: list[RouteInput], iterations: int) -> list[float]:
    for inp in batch * 20:  # warm-up: caches, branch predictors, lazy imports
        route(router, inp)
    samples: list[float] = []
    n = len(batch)
    gc.collect()
    gc.disable()  # a collection mid-sample is noise, not engine cost
    try:
        for i in range(iterations):
            # A fresh input object each time: nothing computed for one decision is reused.
            inp = batch[i % n]
            inp = RouteInput(
                inp.text, now=inp.now, history=inp.history, user=inp.user, groups=inp.groups
            )
            started = perf_counter_ns()
            route(router, inp)
            samples.append((perf_counter_ns() - started) / 1000)
    finally:
        gc.enable()
    return samples


def worst_case_router() -> CompiledRouter:
    """20 keyword phrases of the longest allowed length, all starting with a common word."""
    phrases = []
    for i in range(20):
        tail = f" x{i}"
        phrases.append("w " * ((MAX_ITEM_CHARS - len(tail)) // 2) + tail.strip())
    assert all(len(p) <= MAX_ITEM_CHARS for p in phrases)
    return _one_rule_router([_cond("keywords", "contains_any", phrases)])


def capped_router() -> CompiledRouter:
    """Keywords up to the router-wide limits, from a vocabulary the message is made of."""
    rng = random.Random(7)
    vocab = ("w", "ww", "the", "a", "data", "b", "x")
    per_keyword = MAX_KEYWORD_CHARS_PER_ROUTER // MAX_KEYWORDS_PER_ROUTER
    keywords = []
    for i in range(MAX_KEYWORDS_PER_ROUTER):
        tail, words = f"z{i}", []
        while len(" ".join([*words, tail])) < per_keyword - 2:
            words.append(rng.choice(vocab))
        keywords.append(" ".join([*words, tail]))
    rules = [
        _rule(n + 1, [_cond("keywords", "contains_any", keywords[start : start + MAX_LIST_ITEMS])])
        for n, start in enumerate(range(0, len(keywords), MAX_LIST_ITEMS))
    ]
    spec = RouterSpec(4, "openai/gpt-4o", rules=tuple(rules), models=MODELS)
    return compile_router(spec)


def _one_rule_router(conditions: list[dict[str, object]]) -> CompiledRouter:
    spec = RouterSpec(3, "openai/gpt-4o", rules=(_rule(1, conditions),), models=MODELS)
    return compile_router(spec)


def worst_cases(iterations: int) -> dict[str, tuple[float, float]]:
    """(first, median) ms per 100,000-character message: the issue's 20 long phrases, a router
    at the keyword limits on a message of its own words, and one regex scan of the same text.
    The first scan of a freshly compiled router also builds RE2's automaton states, so it is
    the one a new router version pays; later scans reuse them."""
    now = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
    rng = random.Random(3)
    repetitive = ("w " * 50_000)[:100_000]
    vocab = ("w", "ww", "the", "a", "data", "b", "x")  # capped_router's words
    mixed = " ".join(rng.choice(vocab) for _ in range(40_000))[:100_000]
    cases = {
        "20 long phrases": (worst_case_router(), repetitive),
        "keywords at the caps": (capped_router(), mixed),
        "one regex (baseline)": (_one_rule_router([_cond("regex", "matches", "zzz")]), mixed),
    }
    medians = {}
    for name, (router, text) in cases.items():
        samples = []
        for _ in range(iterations):
            started = perf_counter_ns()
            decision = route(router, RouteInput(text, now=now))
            samples.append((perf_counter_ns() - started) / 1e6)
            assert decision.source == "primary"
        medians[name] = (samples[0], statistics.median(samples))
    return medians


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=20_000)
    args = parser.parse_args()

    none_match = heavy_router(last_matches=False)
    last_match = heavy_router(last_matches=True)
    trivial = trivial_router()
    assert route(none_match, inputs(4000, 1)[0]).source == "primary"
    assert route(last_match, inputs(4000, 1)[0]).rule_id == 25

    results: dict[tuple[str, int], tuple[float, float]] = {}
    print(f"{'case':<28}{'chars':>7}{'median µs':>12}{'p99 µs':>10}{'× trivial':>11}")
    for chars in (200, 4000):
        batch = inputs(chars)
        base = 0.0
        for name, router in (
            ("trivial 1 rule", trivial),
            ("25 rules, none match", none_match),
            ("25 rules, last matches", last_match),
        ):
            samples = timings(router, batch, args.iterations)
            median = statistics.median(samples)
            base = base or median  # the trivial router runs first: it is the baseline
            results[(name, chars)] = (median, p99(samples))
            print(
                f"{name:<28}{chars:>7}{median:>12.1f}{p99(samples):>10.1f}{median / base:>10.1f}×"
            )
    worst = worst_cases(max(5, args.iterations // 1000))
    base = worst["one regex (baseline)"][1]
    print(f"{'100k-char message':<28}{'':>7}{'first ms':>12}{'median ms':>10}{'× regex':>11}")
    for name, (first, median) in worst.items():
        print(f"{name:<28}{'':>7}{first:>12.2f}{median:>10.2f}{median / base:>10.1f}×")
    (first, median), (cap_first, cap_median) = (
        worst["20 long phrases"],
        worst["keywords at the caps"],
    )
    print(
        f"worst_case_keywords median_ms={median:.2f} first_ms={first:.2f} "
        f"at_caps_median_ms={cap_median:.2f} at_caps_first_ms={cap_first:.2f}"
    )
    median, tail = results[("25 rules, none match", 4000)]
    print(f"engine median_us={median:.1f} p99_us={tail:.1f}")


if __name__ == "__main__":
    main()
