"""Provider kind → adapter class. The only place that knows which kinds exist.

Adapters are named by dotted path and imported on first use, so a deployment that only uses
the demo (or only Anthropic) never pays for importing the other SDKs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import cast

from providers.adapters.base import ProviderAdapter, ProviderConfig


@dataclass(frozen=True, slots=True)
class ProviderKind:
    label: str
    needs_key: bool
    needs_base_url: bool
    adapter: str  # "package.module.ClassName", imported lazily
    # Continues a final assistant turn ("prefill"): how a cut answer is handed to this kind.
    supports_prefill: bool = False


PROVIDER_KINDS: dict[str, ProviderKind] = {
    "openai": ProviderKind("OpenAI", True, False, "providers.adapters.openai.OpenAIAdapter"),
    "anthropic": ProviderKind(
        "Anthropic",
        True,
        False,
        "providers.adapters.anthropic.AnthropicAdapter",
        supports_prefill=True,
    ),
    "gemini": ProviderKind("Google Gemini", True, False, "providers.adapters.gemini.GeminiAdapter"),
    "openai_compatible": ProviderKind(
        "OpenAI-compatible server (Ollama, vLLM, LM Studio, OpenRouter…)",
        # Local servers usually need no key; hosted ones (OpenRouter) do — the form allows both.
        False,
        True,
        "providers.adapters.openai.OpenAICompatibleAdapter",
    ),
    "demo": ProviderKind(
        "Demo (simulated, offline)",
        False,
        False,
        "providers.adapters.demo.DemoAdapter",
        supports_prefill=True,
    ),
}


def supports_prefill(kind: str) -> bool:
    info = PROVIDER_KINDS.get(kind)
    return info is not None and info.supports_prefill


@cache
def _adapter_class(dotted_path: str) -> type:
    module_name, _, class_name = dotted_path.rpartition(".")
    return cast(type, getattr(importlib.import_module(module_name), class_name))


def get_adapter(config: ProviderConfig) -> ProviderAdapter:
    """A ready adapter for `config`. Unknown kinds raise `ValueError`."""
    kind = PROVIDER_KINDS.get(config.kind)
    if kind is None:
        raise ValueError(
            f"Unknown provider kind {config.kind!r}; expected one of {sorted(PROVIDER_KINDS)}"
        )
    if kind.needs_base_url and not config.base_url:
        raise ValueError(f"A {kind.label} provider needs a base URL.")
    return cast(ProviderAdapter, _adapter_class(kind.adapter)(config))
