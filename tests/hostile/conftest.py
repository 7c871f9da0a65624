"""Fixtures for the hostile-input tests: the chat, router and /v1 fixtures of other suites."""

from __future__ import annotations

from tests.api.conftest import (  # noqa: F401
    fake_models,
    fake_router,
    live_url,
    token_for,
    uvicorn_server,
)
from tests.chat.conftest import thread, workspace  # noqa: F401
from tests.routers.conftest import make_router, private_router  # noqa: F401
