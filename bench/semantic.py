"""Semantic rules, measured: accuracy against keyword rules and the demo classifier, latency, memory.

    .venv/bin/python bench/semantic.py [--provider-url http://127.0.0.1:18500/v1]
                                       [--local-model DIR] [--tools DIR]

Data: `tests/data/semantic_routes.json` — six routes (8 train + 12 test messages each) and 30
out-of-scope test messages that no rule should take (see the file's `source`). Only the train
messages build the routers; only the test messages are scored.

Three routers from the same train messages, run by the real engine:
- **keywords**: one calculated rule per route, `keywords contains any` of the words that occur in
  that route's train messages and in no other route's (stopwords dropped) — the best keyword
  rule one can write mechanically from the examples;
- **semantic**: one semantic rule per route with the train messages as examples, each threshold
  chosen by the builder's own "suggest threshold" (leave-one-out on the train messages, never
  the test ones); one run, so the best score wins;
- **demo classifier**: one LLM rule per route (its description), judged by the demo provider's
  simulated classifier (word overlap with the description).

Accuracy-with-abstain: a test message is right when the router picks its route, or, for an
out-of-scope message, when no rule matches. Per-route precision and recall follow.

Embeddings:
- **provider**: an OpenAI-compatible `/v1/embeddings` server, through the adapter and the
  `openai` SDK — by default `shared/tools/embedding-server` (`./run.sh --port 18500`): the real
  all-MiniLM-L6-v2 (384 d) in numpy. Its accuracy is the `semantic` figure.
- **local**: the product's local path (`providers.local_embeddings`, model2vec) on a model2vec
  model read from `--local-model`; without one, the bench distils one from the same MiniLM
  weights with the embedding server's numpy encoder (each vocabulary token encoded alone, as
  model2vec's distillation does, no PCA or frequency weighting) into `.local/embeddings/
  minilm-static` — this machine cannot download `potion-base-8M`. Latency is per message, one
  BLAS thread, the whole planner path: evaluate → embed → evaluate → decide.
- **cached**: the same messages again: their embeddings come from the per-process cache.

Memory: resident set size added by loading the local model and the router's example index.
The last line: `semantic accuracy=<n> keywords=<n> local_p95_ms=<n> cached_p95_ms=<n>`.
"""

from __future__ import annotations

import os

# One core: the target is for one core, and BLAS threads would blur it.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "data" / "semantic_routes.json"
DEFAULT_TOOLS = ROOT.parent / "shared" / "tools" / "embedding-server"
DISTILLED = ROOT / ".local" / "embeddings" / "minilm-static"

_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "without",
        "at",
        "by",
        "from",
        "into",
        "onto",
        "over",
        "under",
        "this",
        "that",
        "these",
        "those",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "done",
        "have",
        "has",
        "had",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "she",
        "it",
        "its",
        "they",
        "them",
        "their",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "why",
        "when",
        "where",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "not",
        "no",
        "yes",
        "so",
        "if",
        "then",
        "than",
        "there",
        "here",
        "about",
        "as",
        "all",
        "any",
        "some",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "please",
        "give",
        "get",
        "make",
        "tell",
        "me",
        "let",
        "up",
        "down",
        "out",
        "off",
        "very",
        "just",
        "also",
        "below",
        "above",
        "after",
        "before",
        "again",
    ]
)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- routers -------------------------------------------------------------------------------


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in _STOP and len(w) > 1}


def keyword_rules(routes: dict) -> list:
    from engine import RuleSpec

    vocab = {name: set().union(*(_words(t) for t in r["train"])) for name, r in routes.items()}
    rules = []
    for i, (name, words) in enumerate(vocab.items(), start=1):
        others = set().union(*(w for n, w in vocab.items() if n != name))
        own = sorted(words - others)
        rules.append(
            RuleSpec(
                i,
                name,
                "calculated",
                f"bench/{name}",
                conditions=({"property": "keywords", "operator": "contains_any", "value": own},),
            )
        )
    return rules


def router_of(rules: list, **extra):
    from engine import ModelInfo, RouterSpec, compile_router

    refs = ["bench/primary", *(r.target for r in rules)]
    models = {ref: ModelInfo(ref, ref, 128_000, True) for ref in refs}
    return compile_router(
        RouterSpec(1, "bench/primary", rules=tuple(rules), models=models, **extra)
    )


def message(text: str):
    from engine import RouteInput

    return RouteInput(text, now=datetime(2026, 3, 11, 12, tzinfo=UTC))


# --- scoring --------------------------------------------------------------------------------


def score(cases: list[tuple[str, str | None]], predicted: list[str | None], routes: list[str]):
    right = sum(p == gold for (_, gold), p in zip(cases, predicted, strict=True))
    per_route = {}
    for route in routes:
        tp = sum(p == route and g == route for (_, g), p in zip(cases, predicted, strict=True))
        fp = sum(p == route and g != route for (_, g), p in zip(cases, predicted, strict=True))
        fn = sum(p != route and g == route for (_, g), p in zip(cases, predicted, strict=True))
        per_route[route] = (tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0)
    oos = [(g, p) for (_, g), p in zip(cases, predicted, strict=True) if g is None]
    abstained = sum(p is None for _, p in oos) / len(oos) if oos else 0.0
    return right / len(cases), per_route, abstained


# --- the embedders ---------------------------------------------------------------------------


def provider_target(url: str, model: str = "all-minilm-l6-v2"):
    from providers.adapters.base import ProviderConfig
    from providers.embeddings import EmbeddingTarget

    config = ProviderConfig(kind="openai_compatible", base_url=url, api_key="", read_timeout=30.0)
    return EmbeddingTarget(ref=f"bench/{model}", model_id=model, config=config)


def distil(tools: Path, out: Path) -> Path:
    """A model2vec static model from all-MiniLM-L6-v2, via the embedding server's encoder."""
    venv = Path(
        os.environ.get(
            "EMBEDDING_SERVER_VENV",
            Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
            / "routerweb-embedding-server",
        )
    )
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([str(tools / "setup.sh")], check=True)
    out.mkdir(parents=True, exist_ok=True)
    script = f"""
import numpy as np, shutil
from minilm_numpy import NumpyMiniLM
m = NumpyMiniLM()
vocab = m.tok.get_vocab_size()
cls, sep = m.tok.token_to_id("[CLS]"), m.tok.token_to_id("[SEP]")
rows = []
for start in range(0, vocab, 1024):
    ids = np.arange(start, min(vocab, start + 1024))
    batch = np.stack([np.full_like(ids, cls), ids, np.full_like(ids, sep)], axis=1)
    rows.append(m._encode_ids(batch, np.ones_like(batch)))
np.save({str(out / "vectors.npy")!r}, np.concatenate(rows).astype(np.float32))
shutil.copy(m.model_dir / "tokenizer.json", {str(out / "source-tokenizer.json")!r})
"""
    env = {**os.environ, "PYTHONPATH": str(tools)}
    subprocess.run([str(python), "-c", script], check=True, env=env)

    import numpy as np
    from model2vec import StaticModel
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(out / "source-tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    vectors = np.load(out / "vectors.npy")
    StaticModel(vectors=vectors, tokenizer=tokenizer, normalize=True).save_pretrained(out)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--provider-url", default="http://127.0.0.1:18500/v1")
    parser.add_argument("--local-model", type=Path, help="a model2vec model folder")
    parser.add_argument("--tools", type=Path, default=DEFAULT_TOOLS)
    parser.add_argument("--repeat", type=int, default=3, help="latency passes over the test set")
    args = parser.parse_args()

    data = json.loads(DATA.read_text())
    routes: dict = data["routes"]
    names = list(routes)
    cases = [(t, name) for name, r in routes.items() for t in r["test"]]
    cases += [(t, None) for t in data["out_of_scope"]["test"]]
    print(
        f"data: {DATA.relative_to(ROOT)} — {len(names)} routes, {len(cases)} test messages "
        f"({len(data['out_of_scope']['test'])} out of scope); train messages build the rules"
    )

    local_dir = args.local_model
    if local_dir is None:
        local_dir = DISTILLED
        if not (local_dir / "model.safetensors").exists():
            print(f"distilling a model2vec model from all-MiniLM-L6-v2 into {local_dir} …")
            distil(args.tools, local_dir)
    os.environ["EMBEDDING_MODEL_PATH"] = str(local_dir)
    # The bench measures quality, not the product's per-call deadline: the numpy MiniLM server
    # embeds a rule's examples in one batch, which takes seconds on a loaded machine.
    os.environ.setdefault("EMBEDDING_TIMEOUT", "120")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routerweb.settings")
    import django

    django.setup()
    import logging

    logging.disable(logging.INFO)  # every embedding request would log a line

    import numpy as np

    from engine import RuleSpec, decide, evaluate
    from engine.classifier import build_classifier_prompt, classifier_verdict
    from engine.semantic import normalise
    from providers.adapters.base import ChatMessage, ChatRequest
    from providers.adapters.demo import answer_text
    from providers.embeddings import EmbeddingTarget, aembed
    from routers.semantic import SemanticEmbedder, clear_caches, suggest_threshold

    results: dict[str, tuple[float, dict, float]] = {}

    # Keywords.
    keywords = router_of(keyword_rules(routes))
    predicted = []
    for text, _ in cases:
        ev = evaluate(keywords, message(text))
        rule = keywords.rules_by_id.get(ev.matched_rule_id) if ev.matched_rule_id else None
        predicted.append(rule.name if rule else None)
    results["keywords"] = score(cases, predicted, names)

    # The demo classifier.
    llm = router_of(
        [
            RuleSpec(i, name, "llm", f"bench/{name}", description=r["description"])
            for i, (name, r) in enumerate(routes.items(), start=1)
        ]
    )
    predicted = []
    for text, _ in cases:
        inp = message(text)
        ev = evaluate(llm, inp)
        prompt = build_classifier_prompt(llm, ev, inp)
        raw = answer_text(
            ChatRequest(
                model="demo",
                messages=(ChatMessage("user", prompt.user),),
                system=prompt.system,
                choices=prompt.labels,
            )
        )
        decision = decide(
            llm, ev, classifier=classifier_verdict(raw, prompt, latency_ms=0), inp=inp
        )
        predicted.append(decision.rule_name)
    results["demo classifier"] = score(cases, predicted, names)

    # Semantic rules, with one embedding target: thresholds by leave-one-out on train only.
    async def semantic_router(target: EmbeddingTarget):
        train = [normalise(await aembed(target, routes[n]["train"])) for n in names]
        rules = []
        for i, name in enumerate(names):
            others = np.concatenate([m for j, m in enumerate(train) if j != i])
            threshold = suggest_threshold(train[i], others).threshold or 0.5
            rules.append(
                RuleSpec(
                    i + 1,
                    name,
                    "semantic",
                    f"bench/{name}",
                    examples=tuple(routes[name]["train"]),
                    threshold=threshold,
                )
            )
        return router_of(rules, embedding_model=target.ref)

    async def run(target: EmbeddingTarget, label: str, repeat: int):
        clear_caches()
        router = await semantic_router(target)
        embedder = SemanticEmbedder(label, target)
        before = _rss_mb()
        await embedder.example_index(router)  # once per router version
        index_mb = _rss_mb() - before
        first: list[float] = []
        cached: list[float] = []
        predicted: list[str | None] = []
        for rep in range(repeat):
            for text, _ in cases:
                inp = message(text)
                started = time.perf_counter()
                ev = evaluate(router, inp)
                if ev.needs_embedding:
                    ev = evaluate(router, inp, semantic=await embedder(router, inp))
                decision = decide(router, ev, inp=inp)
                elapsed = (time.perf_counter() - started) * 1000
                if rep == 0:
                    first.append(elapsed)
                    predicted.append(decision.rule_name)
                else:
                    cached.append(elapsed)
        thresholds = {r.name: r.threshold for r in router.rules}
        return score(cases, predicted, names), first, cached, index_mb, thresholds

    provider = provider_target(args.provider_url)
    try:
        prov_score, prov_first, _, _, prov_thr = await run(provider, "provider", 1)
        results["semantic (MiniLM via provider)"] = prov_score
    except Exception as exc:  # noqa: BLE001 — say what is missing, keep the rest of the report
        print(f"provider embeddings unavailable ({exc}); start {args.tools}/run.sh --port 18500")
        prov_first, prov_thr = [], {}

    from providers import local_embeddings

    rss0 = _rss_mb()
    local_embeddings.local_models.get(local_embeddings.DEFAULT_LOCAL_MODEL)
    model_mb = _rss_mb() - rss0
    local = EmbeddingTarget("local/potion-base-8M", local_embeddings.DEFAULT_LOCAL_MODEL)
    local_score, local_first, local_cached, index_mb, local_thr = await run(
        local, "local", args.repeat
    )
    results[f"semantic (local: {local_dir.name})"] = local_score

    print()
    print(
        f"{'router':38} {'accuracy':>8} {'abstain(oos)':>12}   "
        + "  ".join(f"{n[:9]:>9}" for n in names)
    )
    print(f"{'':38} {'':>8} {'':>12}   " + "  ".join(f"{'P/R':>9}" for _ in names))
    for label, (accuracy, per_route, abstain) in results.items():
        cells = "  ".join(f"{p:4.2f}/{r:4.2f}" for p, r in per_route.values())
        print(f"{label:38} {accuracy:8.3f} {abstain:12.2f}   {cells}")
    print()
    if prov_thr:
        print(
            "thresholds (leave-one-out, MiniLM): "
            + ", ".join(f"{k}={v:.2f}" for k, v in prov_thr.items())
        )
    print(
        "thresholds (leave-one-out, local):  "
        + ", ".join(f"{k}={v:.2f}" for k, v in local_thr.items())
    )
    print()
    print("added routing latency per message (evaluate → embed → evaluate → decide), ms:")
    if prov_first:
        print(
            f"  provider (MiniLM over HTTP)  p50={_pct(prov_first, 0.5):7.2f}  "
            f"p95={_pct(prov_first, 0.95):7.2f}"
        )
    print(
        f"  local model, first time      p50={_pct(local_first, 0.5):7.3f}  "
        f"p95={_pct(local_first, 0.95):7.3f}"
    )
    print(
        f"  local model, cached message  p50={_pct(local_cached, 0.5):7.3f}  "
        f"p95={_pct(local_cached, 0.95):7.3f}"
    )
    print(
        f"memory: local model +{model_mb:.1f} MB RSS, example index +{index_mb:.1f} MB RSS "
        f"(process {_pct([_rss_mb()], 0.5):.0f} MB)"
    )
    import importlib.util

    print("PyTorch installed:", "yes" if importlib.util.find_spec("torch") else "no")
    # Without the provider there is no real-model figure: say so rather than print the local one.
    provider_result = results.get("semantic (MiniLM via provider)")
    semantic_accuracy = f"{provider_result[0]:.3f}" if provider_result else "n/a"
    print(
        f"semantic accuracy={semantic_accuracy} keywords={results['keywords'][0]:.3f} "
        f"local_p95_ms={_pct(local_first, 0.95):.3f} cached_p95_ms={_pct(local_cached, 0.95):.3f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
