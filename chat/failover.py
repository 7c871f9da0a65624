"""Streaming an answer along a chain of models, failing over when one fails.

One policy, used by chat and by every API that calls a model. (Interim version: tries each
candidate once in order; failures after text was shown end the answer as incomplete.)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from chat.providers.base import ChatRequest, ProviderConfig, ProviderError, TextDelta, Usage
from chat.providers.registry import get_adapter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    ref: str
    model_id: str
    config: ProviderConfig


@dataclass
class ChainResult:
    """Filled in while `run_chain` streams; read it once the stream ends."""

    text: str = ""
    answered_by: str | None = None
    usage: Usage | None = None
    complete: bool = False
    error: ProviderError | None = None
    attempts: list[dict] = field(default_factory=list)

    @property
    def fallback_used(self) -> bool:
        return any(not a["ok"] for a in self.attempts) and self.answered_by is not None


async def run_chain(candidates: list[Candidate], request: ChatRequest, result: ChainResult) -> AsyncIterator[str]:
    for candidate in candidates:
        attempt_request = ChatRequest(
            model=candidate.model_id,
            messages=request.messages,
            system=request.system,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
        )
        try:
            async for event in get_adapter(candidate.config).stream(attempt_request):
                if isinstance(event, TextDelta) and event.text:
                    result.text += event.text
                    result.answered_by = candidate.ref
                    yield event.text
                elif isinstance(event, Usage):
                    result.usage = event
        except ProviderError as exc:
            result.error = exc
            result.attempts.append({"model": candidate.ref, "ok": False, "error": exc.kind, "message": exc.message})
            log.warning("model %s failed: %r", candidate.ref, exc)
            if result.text:
                return
            continue
        result.answered_by = candidate.ref
        result.complete = True
        result.error = None
        result.attempts.append({"model": candidate.ref, "ok": True})
        return
