"""How a semantic rule should score a message, measured on a public intent set (not our test set).

    .venv/bin/python bench/semantic_methods.py --clinc PATH/data_full.json
                                               [--provider-url http://127.0.0.1:18500/v1]

CLINC150 (github.com/clinc/oos-eval, `data/data_full.json`, CC BY 3.0): 40 intents drawn at
random (seed 13), 8 train examples each; routers of 6 and of 15 intents (12 random draws each)
are scored on the intents' validation messages (12 each) with 30 of its out-of-scope validation
messages mixed in. Thresholds come from the builder's leave-one-out (`suggest_threshold`'s rule:
own examples against each other vs the other rules' examples), with each scoring method in turn.
This is how `engine.semantic.rule_score` (mean of the 3 nearest) was chosen; the project's own
`bench/semantic.py` test part played no part in the choice. Embeddings: an OpenAI-compatible
`/v1/embeddings` server (`shared/tools/embedding-server`, all-MiniLM-L6-v2).
"""

from __future__ import annotations

import argparse
import json
import random
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np

Score = Callable[[np.ndarray, np.ndarray], float]


def _top(k: int) -> Score:
    def score(examples: np.ndarray, vector: np.ndarray) -> float:
        sims = examples @ vector
        return float(np.sort(sims)[-min(k, len(sims)) :].mean())

    return score


def _centroid(examples: np.ndarray, vector: np.ndarray) -> float:
    centre = examples.mean(axis=0)
    return float(centre @ vector / np.linalg.norm(centre))


METHODS: dict[str, Score] = {
    "nearest example": _top(1),
    "mean of the 2 nearest": _top(2),
    "mean of the 3 nearest": _top(3),
    "centroid": _centroid,
}


def gap_threshold(positives: np.ndarray, negatives: np.ndarray) -> float:
    """The midpoint of the widest gap that gets the most right (as `suggest_threshold`)."""
    cands = sorted(set(np.round(np.concatenate([positives, negatives]), 4).tolist()))
    cuts = [cands[0] - 0.01, *cands, cands[-1] + 0.01]
    best: tuple[int, float, float] | None = None
    for low, high in zip(cuts, cuts[1:], strict=False):
        t = (low + high) / 2
        key = (int((positives >= t).sum() + (negatives < t).sum()), high - low, t)
        if best is None or key[:2] > best[:2]:
            best = key
    assert best is not None
    return best[2]


def embed(url: str, texts: list[str]) -> np.ndarray:
    rows: list[list[float]] = []
    for start in range(0, len(texts), 128):
        body = json.dumps({"model": "all-minilm-l6-v2", "input": texts[start : start + 128]})
        request = urllib.request.Request(
            f"{url.rstrip('/')}/embeddings",
            data=body.encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310 — loopback
            rows += [item["embedding"] for item in json.load(response)["data"]]
    matrix = np.asarray(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def accuracy(routes: dict[str, np.ndarray], cases: list, score: Score) -> float:
    thresholds = {}
    for name, own in routes.items():
        positives = np.array([score(np.delete(own, i, 0), own[i]) for i in range(len(own))])
        negatives = np.array(
            [score(own, v) for other, rows in routes.items() if other != name for v in rows]
        )
        thresholds[name] = gap_threshold(positives, negatives)
    right = 0
    for vector, gold in cases:
        passing = [(score(own, vector), n) for n, own in routes.items()]
        passing = [(s, n) for s, n in passing if s >= thresholds[n]]
        right += (max(passing)[1] if passing else None) == gold
    return right / len(cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clinc", type=Path, required=True, help="oos-eval's data_full.json")
    parser.add_argument("--provider-url", default="http://127.0.0.1:18500/v1")
    args = parser.parse_args()
    data = json.loads(args.clinc.read_text())
    rng = random.Random(13)
    intents = rng.sample(sorted({label for _, label in data["train"]}), 40)
    texts: list[str] = []
    where: dict[tuple[str | None, str], list[int]] = {}
    for intent in intents:
        train = [t for t, label in data["train"] if label == intent]
        rng.shuffle(train)
        for split, rows in (
            ("train", train[:8]),
            ("val", [t for t, lb in data["val"] if lb == intent]),
        ):
            for text in rows:
                where.setdefault((intent, split), []).append(len(texts))
                texts.append(text)
    for text, _ in data["oos_val"]:
        where.setdefault((None, "val"), []).append(len(texts))
        texts.append(text)
    vectors = embed(args.provider_url, texts)
    print(f"CLINC150: {len(intents)} intents, {len(texts)} messages embedded")
    for size in (6, 15):
        draws = random.Random(7)
        routers = [draws.sample(intents, size) for _ in range(12)]
        print(f"\nrouters of {size} intents (12 draws): accuracy with abstain, mean / worst")
        for label, score in METHODS.items():
            figures = []
            pick = random.Random(size)
            for names in routers:
                routes = {n: vectors[where[(n, "train")]] for n in names}
                cases = [(vectors[i], n) for n in names for i in where[(n, "val")][:12]]
                cases += [(vectors[i], None) for i in pick.sample(where[(None, "val")], 30)]
                figures.append(accuracy(routes, cases, score))
            print(f"  {label:24} {np.mean(figures):.3f} / {np.min(figures):.3f}")


if __name__ == "__main__":
    main()
