"""Pytest fixtures for the fake upstream: one server per session, clean state per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_upstream.server import FakeUpstream


@pytest.fixture(scope="session")
def fake_upstream_server() -> Iterator[FakeUpstream]:
    # One server for the whole session: starting a thread and binding a port per test
    # would dominate the suite's run time.
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
def fake_upstream(fake_upstream_server: FakeUpstream) -> Iterator[FakeUpstream]:
    """The shared fake server with no scripts and no recorded requests."""
    fake_upstream_server.reset()
    yield fake_upstream_server
    fake_upstream_server.reset()
