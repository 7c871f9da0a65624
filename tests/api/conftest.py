"""The app served by a real uvicorn on loopback, for tests that use real HTTP clients.

uvicorn runs in a thread of the test process (`uvicorn.Server` on a socket we bound), so it
shares the test database: tests using it need committed data, hence `transactional_db`
(the `live_url` fixture requests it). On SQLite the test database is a file opened as in
production (write-ahead log, busy timeout: tests/conftest.py), on PostgreSQL an ordinary
database; either way the server's threads and the test's have connections of their own.

The server answers a call before it logs the call's decision: a test reads what the server
writes only after `wait_for`/`wait_idle`, and `live_url` waits for the server to be idle
before the test's data is flushed.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from accounts.tokens import api_token_create, clear_auth_cache
from providers.models import CatalogModel, Provider

# The rule builder's router fixtures (owner's private and shared routers on the demo catalog).
from tests.routers.conftest import make_router, private_router, shared_router  # noqa: F401


class _LiveServer:
    def __init__(self) -> None:
        import uvicorn

        from routerweb.asgi import application

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(application, lifespan="off", log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> _LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no request is in flight. A response logs its routing decision after its
        last byte (in `close()`), so the client is done before the server is; the test must
        not read the database, or end (flush it), while the server still writes."""
        deadline = time.monotonic() + timeout
        while self.server.server_state.tasks:
            if time.monotonic() > deadline:
                raise RuntimeError("the server is still busy")
            time.sleep(0.005)
        from gateway.v1 import wait_for_logs

        if not wait_for_logs(timeout):
            raise RuntimeError("the server's decision log is still writing")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


_running: list[_LiveServer] = []


@pytest.fixture(scope="session")
def uvicorn_server() -> Iterator[_LiveServer]:
    server = _LiveServer().start()
    _running.append(server)
    yield server
    _running.remove(server)
    server.stop()


@pytest.fixture
def live_url(transactional_db: Any, uvicorn_server: _LiveServer) -> Iterator[str]:
    clear_auth_cache()  # ids are reused after each transactional flush
    yield uvicorn_server.url
    uvicorn_server.wait_idle()
    clear_auth_cache()


@pytest.fixture
def token_for() -> Callable[..., str]:
    """token_for(user) → a fresh plaintext API token for that user."""

    def make(user: Any, name: str = "tests") -> str:
        return api_token_create(user=user, name=name)[1]

    return make


@pytest.fixture
def fake_models(db: Any, fake_upstream: Any) -> dict[str, CatalogModel]:
    """An OpenAI provider `fake` on the fake upstream: fake/fake-small, fake/fake-large, fake/fake-vision."""
    provider = Provider.objects.create(
        name="Fake OpenAI",
        slug="fake",
        kind="openai",
        base_url=fake_upstream.base_url("openai"),
        connect_timeout=1.0,
        read_timeout=5.0,
    )
    provider.api_key = "sk-fake-upstream"
    provider.save()
    return {
        name: CatalogModel.objects.create(
            provider=provider,
            model_id=name,
            display_name=name,
            context_window=16_000,
            input_price_per_m="1.00" if name == "fake-small" else "10.00",
            output_price_per_m="2.00" if name == "fake-small" else "30.00",
            supports_images=name == "fake-vision",
        )
        for name in ("fake-small", "fake-large", "fake-vision")
    }


@pytest.fixture
def fake_router(owner: Any, fake_models: dict[str, CatalogModel]) -> Any:
    """`router:fake-router` (private, owner's): code questions → fake-large (falling back to
    fake-small), images → fake-vision, otherwise fake-small."""
    from routers import services, versions

    router = services.router_create(
        owner=owner,
        name="Fake router",
        slug="fake-router",
        primary_model="fake/fake-small",
        actor=owner,
    )
    services.rule_create(
        router=router,
        name="Code",
        kind="calculated",
        match="any",
        conditions=[
            {"property": "keywords", "operator": "contains_any", "value": ["python", "traceback"]}
        ],
        target_model="fake/fake-large",
        fallbacks=["fake/fake-small"],
        actor=router.owner,
    )
    services.rule_create(
        router=router,
        name="Images",
        kind="calculated",
        conditions=[{"property": "has_image", "operator": "is_true", "value": None}],
        target_model="fake/fake-vision",
        actor=router.owner,
    )
    router.refresh_from_db()
    versions.router_publish(router=router, actor=owner)  # traffic routes with the published
    return router


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """`predicate()` once the server is idle: it logs a call's decision (and settles its
    spend) after the answer has ended, so only then is everything it writes there to read."""
    for server in _running:
        server.wait_idle(timeout)
    return predicate()
