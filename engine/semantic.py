"""Semantic rules: match a message by embedding similarity to a rule's example utterances.

Semantics (documented in the README):

- A *run* is a maximal sequence of consecutive rules whose enabled members are all semantic
  (disabled rules do not break a run). A run is decided together: each rule's score is the
  mean cosine similarity between the message and its few nearest examples (`rule_score`:
  the 3 nearest, at most half the examples); among the rules whose score
  reaches their own threshold, the highest score wins. A rule with a `margin` wins only when
  its score beats the best other rule of the run by at least that margin; otherwise the run
  abstains and routing goes on with the rules after it.
- The message is embedded once per message (the engine asks for the embedding only when a run
  is reached); example embeddings are computed once per (router version, embedding model) by
  the caller and passed in as an `ExampleIndex`.
- What is embedded (`semantic_query_text`): the new message alone — except a short follow-up
  (fewer than `FOLLOW_UP_WORDS` words, like "and in Rust?"), which is embedded together with
  the previous user message so it is judged in the context it continues.

Vectors are numpy arrays, L2-normalised by `normalise` so that a dot product is the cosine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from .limits import unstorable_problem
from .types import RouteInput

MIN_EXAMPLES = 2
MAX_EXAMPLES = 200
MAX_EXAMPLE_CHARS = 2000
FOLLOW_UP_WORDS = 4
TOP_K = 3


def top_k(examples: int) -> int:
    """How many nearest examples a rule's score averages: 3, but at most half the examples.

    The nearest example alone is a noisy score: one example that happens to share a topic word
    with an unrelated message pulls it over the threshold, while a paraphrase far from every
    single example but close to several falls under it. Averaging the few nearest is a k-nearest-
    neighbour vote; measured on a public intent set (CLINC150, 8 examples per intent, out-of-scope
    messages) it routes better than the nearest example alone (README: *Semantic rules*). It stays
    at most half the examples so that a small rule whose examples cover different things (two
    examples, two phrasings) is not averaged into a blur of both.
    """
    return max(1, min(TOP_K, examples // 2))


def rule_score(sims: np.ndarray, k: int | None = None) -> float:
    """A rule's score from one message's similarities to each of its examples (1-d).

    `k` defaults to `top_k` of the examples given; leave-one-out passes the full rule's.
    """
    k = min(k or top_k(sims.shape[0]), sims.shape[0])
    if k == 1:
        return float(sims.max())
    return float(np.partition(sims, -k)[-k:].mean())


def rule_scores(sims: np.ndarray) -> np.ndarray:
    """`rule_score` for many messages at once: rows are messages, columns the examples."""
    k = top_k(sims.shape[1])
    if k == 1:
        return sims.max(axis=1)
    return np.partition(sims, -k, axis=1)[:, -k:].mean(axis=1)


def normalise(matrix: Any) -> np.ndarray:
    """Rows (or one vector) scaled to unit length, as float32; zero rows stay zero."""
    array = np.asarray(matrix, dtype=np.float32)
    if array.ndim == 1:
        norm = float(np.linalg.norm(array))
        return array / norm if norm > 0 else array
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return array / norms


def semantic_query_text(inp: RouteInput) -> str:
    """The text embedded for semantic rules (see the module docstring)."""
    text = inp.text.strip()
    if len(text.split()) >= FOLLOW_UP_WORDS:
        return text
    for message in reversed(inp.history):
        if message.role == "user" and message.text.strip():
            return f"{message.text.strip()}\n{text}"
    return text


@dataclass(frozen=True, slots=True)
class ExampleIndex:
    """Each semantic rule's example embeddings (rows normalised), keyed by rule id."""

    model: str
    vectors: Mapping[int, np.ndarray]


@dataclass(frozen=True, slots=True)
class SemanticInput:
    """What the caller learned from the embedding model for one message.

    Either `vector` and `index` are set, or `error` says why semantic rules cannot be judged
    (no model, the provider failed, the local weights are missing…); then every semantic rule
    is skipped and the reason says so.
    """

    model: str
    vector: np.ndarray | None = field(default=None, compare=False)
    index: ExampleIndex | None = field(default=None, compare=False)
    error: str | None = None
    latency_ms: float = 0.0
    cached: bool = False
    text: str = ""
    # What the embedding calls for this message used and cost (the message, and the router's
    # examples when this message was the one that embedded them); spend counts the cost.
    input_tokens: int = 0
    cost: Decimal = Decimal(0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "error": self.error,
            "latency_ms": round(self.latency_ms, 2),
            "cached": self.cached,
            "input_tokens": self.input_tokens,
            "cost": str(self.cost),
        }


@dataclass(frozen=True, slots=True)
class SemanticScore:
    """One semantic rule's result for one message."""

    rule_id: int
    score: float | None
    threshold: float
    margin: float | None
    nearest: str
    matched: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": None if self.score is None else round(self.score, 3),
            "threshold": self.threshold,
            "margin": self.margin,
            "nearest": self.nearest,
        }


def judge_run(
    rules: Sequence[Any], semantic: SemanticInput
) -> tuple[int | None, dict[int, SemanticScore]]:
    """Decide one run of enabled semantic rules: the winning rule id (or None) and each score.

    `rules` are compiled semantic rules (with `id`, `examples`, `threshold`, `margin`).
    """
    if semantic.error is not None or semantic.vector is None or semantic.index is None:
        why = semantic.error or "no embedding for the message"
        return None, {
            r.id: SemanticScore(r.id, None, r.threshold, r.margin, "", False, f"skipped: {why}")
            for r in rules
        }
    vector = semantic.vector
    raw: list[tuple[Any, float, str]] = []
    for rule in rules:
        matrix = semantic.index.vectors.get(rule.id)
        if matrix is None or matrix.shape[0] == 0 or matrix.shape[1] != vector.shape[0]:
            raw.append((rule, float("nan"), ""))
            continue
        sims = matrix @ vector
        best = int(np.argmax(sims))
        raw.append((rule, rule_score(sims), rule.examples[best]))

    scores: dict[int, SemanticScore] = {}
    passing = [(s, rule) for rule, s, _ in raw if s == s and s >= rule.threshold]
    winner: Any = None
    candidate: Any = None
    if passing:
        best_score, candidate = max(passing, key=lambda pair: pair[0])
        others = [s for rule, s, _ in raw if rule is not candidate and s == s]
        runner_up = max(others) if others else None
        if (
            candidate.margin is None
            or runner_up is None
            or best_score - runner_up >= candidate.margin
        ):
            winner = candidate
    for rule, s, nearest in raw:
        if s != s:
            scores[rule.id] = SemanticScore(
                rule.id,
                None,
                rule.threshold,
                rule.margin,
                "",
                False,
                "skipped: its examples have no embedding from this model",
            )
            continue
        shown = f"{s:.2f} vs threshold {rule.threshold:.2f}, nearest “{_short(nearest)}”"
        if rule is winner:
            detail = f"best of its run: {shown}"
        elif s < rule.threshold:
            detail = f"below threshold: {shown}"
        elif rule is candidate:
            detail = f"not ahead of the runner-up by its margin {rule.margin:.2f}: {shown}"
        else:
            detail = f"another rule of the run scored higher: {shown}"
        scores[rule.id] = SemanticScore(
            rule.id, s, rule.threshold, rule.margin, nearest, rule is winner, detail
        )
    return (winner.id if winner is not None else None), scores


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def validate_examples(examples: object) -> tuple[str, ...]:
    """Clean examples (stripped, blank lines dropped); raise ValueError with a message."""
    if not isinstance(examples, (list, tuple)):
        raise ValueError("examples must be a list of strings")
    cleaned: list[str] = []
    for number, example in enumerate(examples, start=1):
        if not isinstance(example, str):
            raise ValueError(f"example {number} is not text")
        example = example.strip()
        if not example:
            continue
        if len(example) > MAX_EXAMPLE_CHARS:
            raise ValueError(f"example {number} is longer than {MAX_EXAMPLE_CHARS} characters")
        if problem := unstorable_problem(example):
            raise ValueError(f"example {number}: {problem[0].lower()}{problem[1:]}")
        cleaned.append(example)
    unique = tuple(dict.fromkeys(cleaned))
    if len(unique) < MIN_EXAMPLES:
        raise ValueError(f"give at least {MIN_EXAMPLES} different examples")
    if len(unique) > MAX_EXAMPLES:
        raise ValueError(f"at most {MAX_EXAMPLES} examples ({len(unique)} given)")
    return unique


def check_unit_interval(value: object, what: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValueError(f"{what} must be a number between 0 and 1")
    if not 0 <= value <= 1:
        raise ValueError(f"{what} must be between 0 and 1, not {value}")
    return float(value)
