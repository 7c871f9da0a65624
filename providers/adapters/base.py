"""The one interface every provider adapter implements.

Adapters live one per SDK (`openai.py`, `anthropic.py`, `gemini.py`, `demo.py`) and are
looked up through `registry.get_adapter`. An SDK's own types never leave its adapter: callers
see only the dataclasses below and `ProviderError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

ErrorKind = Literal[
    "rate_limited",
    "timeout",
    "unavailable",
    "auth",
    "bad_request",
    "context_too_long",
    "content_filter",
    "dropped_stream",
]

# Which failures are worth trying again (on the same or another model).
RETRYABLE_KINDS: frozenset[str] = frozenset(
    {"rate_limited", "timeout", "unavailable", "dropped_stream"}
)


class ProviderError(Exception):
    """Every provider failure, whatever the SDK raised. `kind` drives the fallback policy."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        retryable: bool | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.retryable = kind in RETRYABLE_KINDS if retryable is None else retryable
        self.status_code = status_code
        # Seconds the provider asked us to wait (HTTP Retry-After), when it said.
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"ProviderError({self.kind!r}, {self.message!r}, retryable={self.retryable})"


# The image types every adapter can send: the chat's uploads and /v1's data URLs are held to it.
ALLOWED_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@dataclass(frozen=True, slots=True)
class ImagePart:
    mime_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["user", "assistant"]
    text: str
    images: tuple[ImagePart, ...] = ()


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    system: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    # When set, the answer must be exactly one of these strings; adapters use the
    # provider's structured output (JSON schema enum / tool call) where it has one.
    choices: tuple[str, ...] | None = None
    # When set, the answer is one value per named field, each one of the field's strings: a
    # JSON object `{"field": "value", …}` where the provider has structured output, else the
    # values as words in order, as the prompt asks (the classifier's multi-field answer).
    fields: tuple[tuple[str, tuple[str, ...]], ...] | None = None

    @property
    def structured(self) -> bool:
        """A classifier-style request: a few tokens of structured answer, not prose."""
        return self.choices is not None or self.fields is not None


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    kind: str
    base_url: str = ""
    api_key: str = field(default="", repr=False)
    connect_timeout: float = 10.0
    read_timeout: float = 120.0


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    output_tokens: int
    estimated: bool = False
    # The answer stopped at the request's max_tokens (it is whole as asked, but not finished).
    max_tokens_reached: bool = False


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    usage: Usage


@dataclass(frozen=True, slots=True)
class Embeddings:
    """One embedding call's result: a vector per input text, in order."""

    vectors: tuple[tuple[float, ...], ...]
    input_tokens: int
    estimated: bool = False


StreamEvent = TextDelta | Usage


class ProviderAdapter(Protocol):
    """An adapter is built from a `ProviderConfig` and is cheap to construct."""

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield `TextDelta`s, then exactly one `Usage` last. Raise `ProviderError` on failure."""
        ...

    async def complete(self, request: ChatRequest) -> Completion:
        """One non-streaming call. Raise `ProviderError` on failure."""
        ...

    async def list_models(self) -> list[str]:
        """Model ids the server offers (used for `openai_compatible` discovery)."""
        ...

    async def embed(self, model: str, texts: tuple[str, ...]) -> Embeddings:
        """Embed `texts` with an embedding model, one vector per text in order. Raise
        `ProviderError` on failure (kind `bad_request` where the provider has no embedding API)."""
        ...
