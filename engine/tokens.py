"""Token estimates used wherever a provider does not report real counts.

Method (stated in the README): one token per four characters, rounded up, plus a flat
per-message overhead of 4 tokens for role framing, and 765 tokens per attached image
(the cost of a 1024x1024 image at OpenAI's "high detail" tiling). This is the common
rule of thumb for English text; it under-counts dense code and CJK text. It is O(1) in
the text length because `len()` is, which keeps routing decisions cheap.
"""

from __future__ import annotations

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4
IMAGE_TOKENS = 765


def estimate_tokens(text: str) -> int:
    """Estimated tokens of a bare text (no framing overhead)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def estimate_message_tokens(text: str, images: int = 0) -> int:
    """Estimated tokens of one chat message including its framing and images."""
    return estimate_tokens(text) + MESSAGE_OVERHEAD_TOKENS + images * IMAGE_TOKENS
