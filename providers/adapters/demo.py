"""The demo provider: no key, no network, deterministic, and honest about being simulated.

It lets someone try routerweb on a laptop before configuring any real LLM: every answer
starts by saying it is simulated and then describes the message it received (a short echo,
word count, whether it looks like a question or code), so which rule routed it is visible.

Classifier calls (`request.choices` set) are simulated too: the demo picks the offered
choice whose description shares the most words with the message being classified, or
"none". It reads the prompt `engine.classifier` builds: each option on its own line
with its description (`r1: questions about contracts, law or compliance`), and the message
to classify between `<<<EXCERPT` / `EXCERPT>>>` lines of the last user message (without
those lines, the whole last user message minus the option lines).

A multi-field classifier call (`request.fields`: rule, category, complexity, tier) gets a
JSON object, each value chosen deterministically from the excerpt (`judge_fields`): the
rule as above; the category by keyword cues (code, translation, math, creative, research,
multimodal, else chat — the first of the router's categories when its list differs);
the complexity by length and cue words; the tier as the lowest offered for simple and
medium messages and the highest offered for hard ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import re
from collections.abc import AsyncIterator

from providers.adapters._common import estimate_text_tokens, make_usage
from providers.adapters.base import (
    ChatRequest,
    Completion,
    Embeddings,
    ProviderConfig,
    StreamEvent,
    TextDelta,
)

# Seconds between streamed words, so the demo feels like streaming. Tests set it to 0.
CHUNK_DELAY_ENV = "DEMO_CHUNK_DELAY"
DEFAULT_CHUNK_DELAY = 0.02

DEMO_MODELS: tuple[str, ...] = ("fast", "smart")
NO_CHOICE = "none"

_SUMMARY_CHARS = 80
_FENCE = re.compile(r"```([\w+#.-]*)[^\n]*\n(.*?)\n?```", re.DOTALL)
_CODE = re.compile(
    r"```|^\s*(def|class|import|from|function|const|let|var|public|private|#include)\b|=>|;\s*$|\{\s*$",
    re.MULTILINE,
)
_QUESTION_OPENERS = frozenset(
    [
        "how",
        "what",
        "why",
        "when",
        "where",
        "who",
        "which",
        "whom",
        "whose",
        "can",
        "could",
        "is",
        "are",
        "do",
        "does",
        "did",
        "should",
        "would",
        "will",
        "may",
    ]
)
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
        "about",
        "any",
        "does",
        "into",
        "not",
        "than",
        "then",
        "there",
        "these",
        "those",
        "what",
        "which",
        "who",
        "why",
        "how",
        "you",
        "your",
        "our",
        "we",
        "they",
        "them",
        "their",
        "can",
        "could",
        "should",
        "would",
        "message",
        "messages",
        "rule",
        "rules",
        "option",
        "options",
        "user",
        "users",
        "question",
        "questions",
    ]
)


def chunk_delay() -> float:
    raw = os.environ.get(CHUNK_DELAY_ENV)
    if raw is None or raw == "":
        return DEFAULT_CHUNK_DELAY
    try:
        delay = float(raw)
    except ValueError as exc:
        raise ValueError(f"{CHUNK_DELAY_ENV} must be a number of seconds, got {raw!r}") from exc
    if delay < 0:
        raise ValueError(f"{CHUNK_DELAY_ENV} must not be negative, got {raw!r}")
    return delay


class DemoAdapter:
    def __init__(self, config: ProviderConfig) -> None:
        self._config = config

    async def complete(self, request: ChatRequest) -> Completion:
        text = answer_text(request)
        return Completion(text=text, usage=make_usage(request, text, None, None))

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        text = answer_text(request)
        delay = chunk_delay()
        pieces = [text] if request.structured else re.findall(r"\S+\s*", text)
        for piece in pieces:
            await asyncio.sleep(delay)
            yield TextDelta(piece)
        yield make_usage(request, text, None, None)

    async def list_models(self) -> list[str]:
        return list(DEMO_MODELS)

    async def embed(self, model: str, texts: tuple[str, ...]) -> Embeddings:
        return Embeddings(
            vectors=tuple(simulated_embedding(text) for text in texts),
            input_tokens=estimate_text_tokens(texts),
            estimated=True,
        )

    async def aclose(self) -> None:
        """Nothing to release; present so every adapter can be closed the same way."""


SIMULATED_DIMENSIONS = 256
# Function words carry no topic: without them "how are you" is not "like" "how do you say".
_EMBED_STOPWORDS = frozenset(
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
        "at",
        "for",
        "with",
        "by",
        "from",
        "into",
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
        "am",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "i",
        "me",
        "my",
        "you",
        "your",
        "he",
        "she",
        "it",
        "we",
        "they",
        "them",
        "what",
        "which",
        "who",
        "how",
        "why",
        "when",
        "where",
        "can",
        "could",
        "would",
        "should",
        "will",
        "please",
        "just",
        "so",
        "if",
    ]
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def simulated_embedding(text: str) -> tuple[float, ...]:
    """A deterministic, simulated embedding: hashed word stems and character trigrams.

    Not a language model — texts sharing words (or parts of words) come out similar, which is
    enough to show semantic rules working offline. Real meaning needs a real embedding model.
    """
    vector = [0.0] * SIMULATED_DIMENSIONS
    for word in _WORD.findall(text.lower()):
        if word in _EMBED_STOPWORDS:
            continue
        stem = _stem(word)
        features = [(stem, 1.0)]
        padded = f"^{stem}$"
        features += [(padded[i : i + 3], 0.3) for i in range(len(padded) - 2)]
        for feature, weight in features:
            digest = hashlib.blake2b(feature.encode(), digest_size=4).digest()
            index = int.from_bytes(digest[:3], "big") % SIMULATED_DIMENSIONS
            vector[index] += weight if digest[3] & 1 else -weight
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return tuple(v / norm for v in vector)


def answer_text(request: ChatRequest) -> str:
    if request.fields is not None:
        return json.dumps(judge_fields(request))
    if request.choices is not None:
        return classify(request)
    return simulated_answer(request)


def simulated_answer(request: ChatRequest) -> str:
    users = [m for m in request.messages if m.role == "user"]
    last = users[-1] if users else None
    text = last.text if last else ""
    words = len(text.split())
    sentences = [f"[Simulated answer from demo model `{request.model}` — no real LLM was called.]"]
    if not text.strip():
        sentences.append("Your message was empty.")
    else:
        sentences.append(f'You wrote {words} word{"" if words == 1 else "s"}: "{_summary(text)}".')
        sentences.append(f"It looks like {_describe(text)}.")
    if last and last.images:
        count = len(last.images)
        sentences.append(
            f"You attached {count} image{'' if count == 1 else 's'}, which the demo does not look at."
        )
    sentences.append(f"This is turn {len(users)} of the conversation.")
    sentences.append("Configure a real provider to get real answers.")
    answer = " ".join(sentences)
    fence = _FENCE.search(text)
    if fence:
        # Real models answer in markdown; echoing the code back as a fenced block lets the demo
        # show how code in an answer looks (highlighted, with a copy button).
        lang, code = fence.group(1), fence.group(2)
        answer += f"\n\nThe code you sent, as the demo received it:\n\n```{lang}\n{code}\n```\n"
    return answer


def _summary(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= _SUMMARY_CHARS:
        return flat
    return flat[: _SUMMARY_CHARS - 1].rstrip() + "…"


def _describe(text: str) -> str:
    stripped = text.strip()
    first_word = stripped.split()[0].lower().strip(",:;") if stripped else ""
    question = stripped.endswith("?") or first_word in _QUESTION_OPENERS
    code = bool(_CODE.search(text))
    if question and code:
        return "a question about some code"
    if code:
        return "code"
    if question:
        return "a question"
    return "a statement rather than a question"


# --- Simulated classification -------------------------------------------------------------


def classify(request: ChatRequest) -> str:
    """The offered choice whose description overlaps most with the message; ties go to the
    choice offered first; no overlap at all means "none"."""
    offered = [c for c in request.choices or () if c != NO_CHOICE]
    prompt = "\n".join([request.system, *(m.text for m in request.messages)])
    users = [m for m in request.messages if m.role == "user"]
    message = _excerpt(users[-1].text) if users else ""
    descriptions = {c: _description_lines(prompt, c) for c in offered}
    listed = {line for lines in descriptions.values() for line in lines}
    message_words = _keywords(
        "\n".join(line for line in message.splitlines() if line not in listed)
    )
    best, best_score = NO_CHOICE, 0
    for choice in offered:
        score = len(
            (_keywords("\n".join(descriptions[choice])) - _keywords(choice)) & message_words
        )
        if score > best_score:
            best, best_score = choice, score
    return best


def _excerpt(text: str) -> str:
    """The data block of a classifier prompt (between `<<<…` and `…>>>` lines), if any."""
    match = re.search(r"^<<<[^\n]*\n(.*?)\n[^\n]*>>>\s*$", text, re.MULTILINE | re.DOTALL)
    return match.group(1) if match else text


def _description_lines(prompt: str, choice: str) -> list[str]:
    """Lines that define `choice` ("r1: questions about law", "- legal — contracts"),
    else any line that mentions it."""
    name = re.escape(choice)
    defining = re.compile(rf"^\s*[-*]?\s*{name}\s*[:\-–—]", re.IGNORECASE)
    lines = [line for line in prompt.splitlines() if defining.search(line)]
    if lines:
        return lines
    mentions = re.compile(rf"(?<![\w-]){name}(?![\w-])", re.IGNORECASE)
    return [line for line in prompt.splitlines() if mentions.search(line)]


def _keywords(text: str) -> set[str]:
    words = set()
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        if len(word) < 3 or word in _STOPWORDS:
            continue
        # Crude plural folding, so "contract" matches "contracts".
        words.add(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return words


# --- Simulated category, complexity and escalation -------------------------------------------

# Cue words per category, checked in this order; the first category with a cue wins.
_CATEGORY_CUES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("code", ("code", "python", "javascript", "typescript", "rust", "java", "sql", "function",
              "bug", "compile", "compiler", "exception", "stack trace", "regex", "api", "script",
              "debug", "refactor", "class", "method", "variable", "loop", "git", "database",
              "cache", "server", "kubernetes", "docker")),
    ("translation", ("translate", "translation", "how do i say", "how do you say", "in french",
                     "in german", "in spanish", "in italian", "in japanese", "into english")),
    ("math", ("math", "equation", "integral", "derivative", "prove", "proof", "theorem",
              "solve", "calculate", "probability", "matrix", "algebra", "geometry")),
    ("creative", ("poem", "story", "haiku", "song", "lyrics", "novel", "fiction", "limerick",
                  "creative", "slogan")),
    ("research", ("research", "sources", "studies", "literature", "compare", "history of",
                  "summarize", "summarise", "evidence", "paper", "report")),
    ("multimodal", ("image", "picture", "photo", "diagram", "screenshot", "chart", "video")),
)  # fmt: skip
_HARD_CUES = ("prove", "proof", "design", "architecture", "optimize", "optimise",
              "step by step", "in depth", "in detail", "analyse", "analyze", "trade-off",
              "tradeoffs", "derive", "distributed", "concurrency")  # fmt: skip
_MATH_SIGNS = re.compile(r"\d\s*[-+*/^=]\s*\d|∫|∑|√")


def _has_cue(text: str, cue: str) -> bool:
    return re.search(rf"(?<![a-z]){re.escape(cue)}(?![a-z])", text) is not None


def demo_category(message: str, categories: tuple[str, ...]) -> str:
    text = message.lower()
    found = "chat"
    if _CODE.search(message):
        found = "code"
    elif _MATH_SIGNS.search(message):
        found = "math"
    else:
        for category, cues in _CATEGORY_CUES:
            if any(_has_cue(text, cue) for cue in cues):
                found = category
                break
    if found in categories:
        return found
    return "chat" if "chat" in categories else categories[0]


def demo_complexity(message: str) -> str:
    text = message.lower()
    words = len(message.split())
    if words > 80 or any(_has_cue(text, cue) for cue in _HARD_CUES):
        return "hard"
    if words > 20 or _CODE.search(message) or _MATH_SIGNS.search(message):
        return "medium"
    return "simple"


def judge_fields(request: ChatRequest) -> dict[str, str]:
    """The demo's deterministic answer to a multi-field classifier call."""
    users = [m for m in request.messages if m.role == "user"]
    excerpt = _excerpt(users[-1].text) if users else ""
    # Judge the new message itself; the history only frames it.
    lines = [line for line in excerpt.splitlines() if line.startswith("[new message]")]
    message = lines[-1].removeprefix("[new message]").strip() if lines else excerpt
    answer: dict[str, str] = {}
    complexity = demo_complexity(message)
    for name, values in request.fields or ():
        if name == "rule":
            answer[name] = classify(
                ChatRequest(
                    model=request.model,
                    messages=request.messages,
                    system=request.system,
                    choices=values,
                )
            )
        elif name == "category":
            answer[name] = demo_category(message, values)
        elif name == "complexity":
            answer[name] = complexity if complexity in values else values[0]
        elif name == "tier":
            answer[name] = values[-1] if complexity == "hard" else values[0]
        else:
            answer[name] = values[0]
    return answer
