"""The OpenAI-compatible API, included at `/v1/` by `routerweb/urls.py`."""

from __future__ import annotations

from django.urls import path

from gateway import v1

urlpatterns = [
    path("chat/completions", v1.chat_completions, name="v1_chat_completions"),
    path("models", v1.models, name="v1_models"),
]
