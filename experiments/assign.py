"""Which arm of an experiment a conversation belongs to: a stable hash of the experiment and
the conversation's key ("thread:<id>" in the chat, "user:<id>" on `/v1`), so a thread (or an
API user) stays in its arm for the whole experiment, in every process, with nothing stored."""

from __future__ import annotations

import hashlib


def arm_of(*, experiment_id: int, key: str, percent: int) -> str:
    """ "variant" for `percent`% of keys, "control" for the rest."""
    digest = hashlib.sha256(f"experiment:{experiment_id}:{key}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 10_000
    return "variant" if bucket < percent * 100 else "control"
