"""A fake OpenAI / Anthropic / Gemini server on loopback for provider tests (see `server.py`)."""

from __future__ import annotations

from tests.fake_upstream.server import SWITCHES, FakeUpstream, RecordedRequest

__all__ = ["SWITCHES", "FakeUpstream", "RecordedRequest"]
