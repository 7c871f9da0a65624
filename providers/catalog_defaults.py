"""Editable starting entries for the model catalog.

Prices are USD per 1M tokens as published by each provider when this list was written; they
change, so admins edit them on the provider page. Only the routing-relevant facts are here.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import NamedTuple


class Entry(NamedTuple):
    model_id: str
    display_name: str
    context_window: int
    input_price: D
    output_price: D
    images: bool
    tools: bool = True
    # Embedding models: kind "embedding", the vector size; input_price is per 1M tokens.
    kind: str = "chat"
    dimensions: int | None = None
    # What profiles select and rank by (chat models).
    family: str = ""
    size_class: str = ""


DEFAULTS: dict[str, list[Entry]] = {
    "openai": [
        Entry(
            "gpt-5", "GPT-5", 400_000, D("1.25"), D("10.00"), True, family="gpt", size_class="large"
        ),
        Entry(
            "gpt-5-mini",
            "GPT-5 mini",
            400_000,
            D("0.25"),
            D("2.00"),
            True,
            family="gpt",
            size_class="medium",
        ),
        Entry(
            "gpt-5-nano",
            "GPT-5 nano",
            400_000,
            D("0.05"),
            D("0.40"),
            True,
            family="gpt",
            size_class="small",
        ),
        Entry(
            "gpt-4.1",
            "GPT-4.1",
            1_047_576,
            D("2.00"),
            D("8.00"),
            True,
            family="gpt",
            size_class="large",
        ),
        Entry(
            "gpt-4.1-mini",
            "GPT-4.1 mini",
            1_047_576,
            D("0.40"),
            D("1.60"),
            True,
            family="gpt",
            size_class="medium",
        ),
        Entry(
            "gpt-4o-mini",
            "GPT-4o mini",
            128_000,
            D("0.15"),
            D("0.60"),
            True,
            family="gpt",
            size_class="small",
        ),
        Entry(
            "text-embedding-3-small",
            "Text Embedding 3 Small",
            8_191,
            D("0.02"),
            D("0"),
            False,
            False,
            "embedding",
            1536,
        ),
        Entry(
            "text-embedding-3-large",
            "Text Embedding 3 Large",
            8_191,
            D("0.13"),
            D("0"),
            False,
            False,
            "embedding",
            3072,
        ),
    ],
    "anthropic": [
        Entry(
            "claude-opus-4-1",
            "Claude Opus 4.1",
            200_000,
            D("15.00"),
            D("75.00"),
            True,
            family="claude",
            size_class="large",
        ),
        Entry(
            "claude-sonnet-4-5",
            "Claude Sonnet 4.5",
            200_000,
            D("3.00"),
            D("15.00"),
            True,
            family="claude",
            size_class="medium",
        ),
        Entry(
            "claude-haiku-4-5",
            "Claude Haiku 4.5",
            200_000,
            D("1.00"),
            D("5.00"),
            True,
            family="claude",
            size_class="small",
        ),
    ],
    "gemini": [
        Entry(
            "gemini-2.5-pro",
            "Gemini 2.5 Pro",
            1_048_576,
            D("1.25"),
            D("10.00"),
            True,
            family="gemini",
            size_class="large",
        ),
        Entry(
            "gemini-2.5-flash",
            "Gemini 2.5 Flash",
            1_048_576,
            D("0.30"),
            D("2.50"),
            True,
            family="gemini",
            size_class="medium",
        ),
        Entry(
            "gemini-2.5-flash-lite",
            "Gemini 2.5 Flash-Lite",
            1_048_576,
            D("0.10"),
            D("0.40"),
            True,
            family="gemini",
            size_class="small",
        ),
        Entry(
            "gemini-embedding-001",
            "Gemini Embedding",
            2_048,
            D("0.15"),
            D("0"),
            False,
            False,
            "embedding",
            3072,
        ),
    ],
    # Simulated models: prices mirror a cheap, a mid and a premium tier so the demo shows savings.
    "demo": [
        Entry(
            "small",
            "Demo Small (simulated)",
            16_000,
            D("0.15"),
            D("0.60"),
            False,
            False,
            family="demo",
            size_class="small",
        ),
        Entry(
            "coder",
            "Demo Coder (simulated)",
            64_000,
            D("1.00"),
            D("4.00"),
            False,
            False,
            family="demo",
            size_class="medium",
        ),
        Entry(
            "large",
            "Demo Large (simulated)",
            200_000,
            D("3.00"),
            D("15.00"),
            True,
            False,
            family="demo",
            size_class="large",
        ),
        Entry(
            "embed",
            "Demo Embeddings (simulated)",
            8_192,
            D("0"),
            D("0"),
            False,
            False,
            "embedding",
            256,
        ),
    ],
}
